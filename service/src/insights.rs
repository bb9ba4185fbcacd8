//! An org's figures over periods for the people who read them at a glance (`insights:view`):
//! per period, the run whose pay it shows (the locking final run, else the latest calculated
//! one), its sites' and its total headcount, pay, cost, overtime, loss of pay and attendance,
//! each with the change from the period before; and the attendance heatmap of one period.
//! Read from the `summary` and `attendance_days` tables runs write beside their results.
//! What a caller without `pay:view` may not read is withheld (`domain::insights`).

use std::collections::BTreeMap;

use payroll_connectors::results::{read_site_days, read_summary};
use payroll_rules::vocabulary::PayPeriod;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::App;
use crate::caller::Caller;
use crate::db::runs::{self, Run};
use crate::domain::insights::{
    Cells, HeatCell, PeriodFigures, TodayCells, cells, today as today_cells, total_withheld,
};
use crate::domain::permissions::Permission;
use crate::error::{Error, Result};

/// The most periods one answer covers.
pub const MAX_PERIODS: u32 = 36;
/// Periods shown when `from` is not given: a year to `until`.
const DEFAULT_PERIODS: u32 = 12;

/// What the caller asks for: `from..=until`, one site or all, the heatmap's period.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub from: Option<PayPeriod>,
    pub until: Option<PayPeriod>,
    pub site: Option<String>,
    pub heatmap: Option<PayPeriod>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Insights {
    pub org_id: String,
    /// The periods asked for (absent when the org has no calculated run yet).
    #[schema(example = "2025-11")]
    pub from: Option<String>,
    #[schema(example = "2026-10")]
    pub until: Option<String>,
    /// Periods of the range with a calculated run, oldest first.
    pub periods: Vec<PeriodInsight>,
    /// Site by day of one period (`heatmap`, else `until`); absent when it has no run.
    pub heatmap: Option<Heatmap>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PeriodInsight {
    #[schema(example = "2026-10")]
    pub period: String,
    /// The run whose figures these are: the final run that locked the period, else the latest
    /// calculated one (a final run before a provisional one).
    pub run_id: String,
    #[schema(example = "final")]
    pub run_kind: String,
    pub locked: bool,
    pub total: Cells,
    pub sites: Vec<SiteInsight>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteInsight {
    pub site_id: String,
    #[serde(flatten)]
    pub cells: Cells,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Heatmap {
    #[schema(example = "2026-10")]
    pub period: String,
    pub run_id: String,
    pub sites: Vec<HeatmapSite>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeatmapSite {
    pub site_id: String,
    /// The period's days the site had workers on, in order.
    pub days: Vec<HeatCell>,
}

/// The org's insights for `ask` (`insights:view`).
pub async fn insights(app: &App, caller: &Caller, org: &str, ask: &Ask) -> Result<Insights> {
    caller.may(org, Permission::ViewInsights)?;
    // Whoever may not see pay reads only figures of 5 workers or more.
    let small_withheld = !caller.can(Permission::ViewPay);
    let newest = match ask.until {
        Some(until) => Some(until),
        None => runs::calculated_periods(&app.db, org, None, 1)
            .await?
            .0
            .first()
            .map(|run| run.period),
    };
    let Some(until) = newest else {
        return Ok(Insights {
            org_id: org.to_string(),
            from: None,
            until: None,
            periods: Vec::new(),
            heatmap: None,
        });
    };
    let from = ask
        .from
        .unwrap_or_else(|| (1..DEFAULT_PERIODS).fold(until, |p, _| p.previous()));
    let span = span(from, until)?;
    // One period more than shown: the first period's change is from the one before it.
    let shown_runs = period_runs(app, org, from.previous(), until, span + 1).await?;
    let locks = runs::period_locks(&app.db, org).await?;

    let mut periods = Vec::new();
    let mut before: Option<Shown> = None;
    for (period, run) in &shown_runs {
        let mut figures = PeriodFigures::default();
        for (site, site_figures) in read_summary(&app.store, org, &period.to_string(), &run.id).await? {
            if ask.site.as_ref().is_none_or(|wanted| *wanted == site) {
                figures.sites.insert(site, site_figures);
            }
        }
        let total = figures.total().map_err(payroll_connectors::Error::from)?;
        let now = Shown {
            period: *period,
            withheld: match small_withheld {
                true => figures
                    .withheld()
                    .into_iter()
                    .map(|(site, why)| (site.to_string(), why))
                    .collect(),
                false => BTreeMap::new(),
            },
            total_withheld: total_withheld(&total).filter(|_| small_withheld),
            figures,
            total,
        };
        // The change is from the calendar period before, when it had a run.
        let previous = before.as_ref().filter(|b| b.period == period.previous());
        if *period >= from {
            periods.push(PeriodInsight {
                period: period.to_string(),
                run_id: run.id.clone(),
                run_kind: run.kind.as_str().to_string(),
                locked: locks.get(period).is_some_and(|(locking, _)| *locking == run.id),
                total: cells(
                    &now.total,
                    now.total_withheld,
                    previous.map(|p| (&p.total, p.total_withheld.is_some())),
                ),
                sites: now
                    .figures
                    .sites
                    .iter()
                    .map(|(site, figures)| {
                        let then = previous
                            .and_then(|p| p.figures.sites.get(site).map(|f| (f, p.withheld.contains_key(site))));
                        SiteInsight {
                            site_id: site.clone(),
                            cells: cells(figures, now.withheld.get(site).copied(), then),
                        }
                    })
                    .collect(),
            });
        }
        before = Some(now);
    }

    let heatmap_period = ask.heatmap.unwrap_or(until);
    let heatmap = match shown_runs.iter().find(|(p, _)| *p == heatmap_period) {
        Some((period, run)) => Some(heatmap(app, org, *period, &run.id, ask.site.as_deref(), small_withheld).await?),
        None if ask.heatmap.is_some() => match runs::latest_calculated(&app.db, org, heatmap_period).await? {
            Some(run) => Some(heatmap(app, org, heatmap_period, &run.id, ask.site.as_deref(), small_withheld).await?),
            None => None,
        },
        None => None,
    };
    Ok(Insights {
        org_id: org.to_string(),
        from: Some(from.to_string()),
        until: Some(until.to_string()),
        periods,
        heatmap,
    })
}

/// What the live board shows of a day.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Today {
    pub org_id: String,
    /// The day shown: the one asked for, else the newest day the stream has a punch of (absent
    /// while it has none).
    #[schema(example = "2026-10-31")]
    pub date: Option<String>,
    /// A first `in` after this local time at the site is a late arrival.
    #[schema(example = "09:30")]
    pub late_after: String,
    /// When the stream last wrote the board.
    pub as_of: Option<String>,
    pub total: TodayCells,
    pub sites: Vec<TodaySite>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TodaySite {
    pub site_id: String,
    #[serde(flatten)]
    pub cells: TodayCells,
}

/// Today's attendance per site from the stream's live board (`insights:view`; stream mode).
pub async fn today(
    app: &App,
    caller: &Caller,
    org: &str,
    date: Option<chrono::NaiveDate>,
    late_after: chrono::NaiveTime,
) -> Result<Today> {
    use chrono::Timelike;
    caller.may(org, Permission::ViewInsights)?;
    let live = app.live.as_ref().ok_or_else(|| {
        Error::Conflict(
            "the service reads input files, not a stream: today's attendance needs stream mode (`brokers` and `sites` in the config)"
                .to_string(),
        )
    })?;
    let (days, as_of) = live.board(org).await?;
    let date = date.or_else(|| days.iter().map(|d| d.date).max());
    let late = (late_after.hour() * 60 + late_after.minute()) as i32;
    let (sites, total) = match date {
        Some(date) => today_cells(&days, date, late, !caller.can(Permission::ViewPay)),
        None => Default::default(),
    };
    Ok(Today {
        org_id: org.to_string(),
        date: date.map(|d| d.to_string()),
        late_after: late_after.format("%H:%M").to_string(),
        as_of: as_of.map(|at| at.to_rfc3339()),
        total,
        sites: sites
            .into_iter()
            .map(|(site_id, cells)| TodaySite { site_id, cells })
            .collect(),
    })
}

/// Periods from `from` to `until`, at most [`MAX_PERIODS`].
fn span(from: PayPeriod, until: PayPeriod) -> Result<u32> {
    let months = (until.year - from.year) * 12 + until.month as i32 - from.month as i32 + 1;
    if months < 1 {
        return Err(Error::invalid("from", format!("{from} is after until {until}")));
    }
    match u32::try_from(months) {
        Ok(months) if months <= MAX_PERIODS => Ok(months),
        _ => Err(Error::invalid(
            "from",
            format!("{from} to {until} is {months} periods: at most {MAX_PERIODS} at a time"),
        )),
    }
}

/// The run each period of `from..=until` shows, oldest first (periods without a calculated run
/// left out).
async fn period_runs(
    app: &App,
    org: &str,
    from: PayPeriod,
    until: PayPeriod,
    size: u32,
) -> Result<Vec<(PayPeriod, Run)>> {
    let (newest_first, _) = runs::calculated_periods(&app.db, org, Some(until.next()), size).await?;
    let mut runs: Vec<(PayPeriod, Run)> = newest_first
        .into_iter()
        .filter(|run| run.period >= from)
        .map(|run| (run.period, run))
        .collect();
    runs.reverse();
    Ok(runs)
}

/// A period's figures as the caller may read them: each site's and the total, and which of
/// them are withheld.
struct Shown {
    period: PayPeriod,
    figures: PeriodFigures,
    total: payroll_engine::summary::SiteFigures,
    withheld: BTreeMap<String, &'static str>,
    total_withheld: Option<&'static str>,
}

async fn heatmap(
    app: &App,
    org: &str,
    period: PayPeriod,
    run_id: &str,
    site: Option<&str>,
    small_withheld: bool,
) -> Result<Heatmap> {
    let counts = read_site_days(&app.store, org, &period.to_string(), run_id).await?;
    let sites = counts
        .sites()
        .filter(|(s, _)| site.is_none_or(|wanted| wanted == *s))
        .map(|(site_id, days)| HeatmapSite {
            site_id: site_id.to_string(),
            days: days
                .map(|(date, count)| HeatCell::of(date, count, small_withheld))
                .collect(),
        })
        .collect();
    Ok(Heatmap {
        period: period.to_string(),
        run_id: run_id.to_string(),
        sites,
    })
}

/// The insights' tables as CSV: `sites` (a row per period and site, and its total) or
/// `heatmap` (a row per site and day). Withheld figures are empty cells with the reason.
pub fn csv(insights: &Insights, table: Table) -> Result<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let fault = |e: csv::Error| Error::Internal(format!("writing insights CSV: {e}"));
    match table {
        Table::Sites => {
            out.write_record([
                "period",
                "run_id",
                "site_id",
                "headcount",
                "gross",
                "net",
                "employer_cost",
                "ot_hours",
                "lop_days",
                "attendance_rate",
                "withheld",
            ])
            .map_err(fault)?;
            for p in &insights.periods {
                let rows = p
                    .sites
                    .iter()
                    .map(|s| (s.site_id.as_str(), &s.cells))
                    .chain(std::iter::once(("total", &p.total)));
                for (site, c) in rows {
                    out.write_record([
                        p.period.clone(),
                        p.run_id.clone(),
                        site.to_string(),
                        c.headcount.map(|h| h.to_string()).unwrap_or_default(),
                        text(&c.gross),
                        text(&c.net),
                        text(&c.employer_cost),
                        text(&c.ot_hours),
                        text(&c.lop_days),
                        text(&c.attendance_rate),
                        c.withheld.unwrap_or_default().to_string(),
                    ])
                    .map_err(fault)?;
                }
            }
        }
        Table::Heatmap => {
            out.write_record([
                "period", "run_id", "site_id", "date", "workers", "attended", "rate", "withheld",
            ])
            .map_err(fault)?;
            if let Some(h) = &insights.heatmap {
                for site in &h.sites {
                    for day in &site.days {
                        out.write_record([
                            h.period.clone(),
                            h.run_id.clone(),
                            site.site_id.clone(),
                            day.date.to_string(),
                            day.workers.map(|w| w.to_string()).unwrap_or_default(),
                            text(&day.attended),
                            text(&day.rate),
                            day.withheld.unwrap_or_default().to_string(),
                        ])
                        .map_err(fault)?;
                    }
                }
            }
        }
    }
    out.into_inner()
        .map_err(|e| Error::Internal(format!("writing insights CSV: {e}")))
}

/// A table of the insights as a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Sites,
    Heatmap,
}
