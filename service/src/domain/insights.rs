//! What the insights page shows of an org's periods, and what it withholds: per site and in
//! total, headcount, gross, net, employer cost, overtime hours, loss-of-pay days and the
//! attendance rate, each with its change from the period before; and the attendance heatmap.
//!
//! Someone who may not see pay (an `analyst`) reads only figures built from at least
//! [`SMALLEST_CELL`] workers: a smaller site is withheld, and when a period withholds a single
//! site, the next smallest is withheld with it, so that no withheld site is the total less the
//! sites shown.

use std::collections::BTreeMap;

use payroll_engine::days::DayCount;
use payroll_engine::summary::SiteFigures;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

/// The fewest workers a figure shown to someone without `pay:view` is built from.
pub const SMALLEST_CELL: i64 = 5;

/// Why a cell is withheld.
pub const TOO_FEW: &str = "built from fewer than 5 workers: withheld so no one's pay can be read from it";
/// Why a site of 5 or more is withheld beside one that is.
pub const COMPLEMENT: &str =
    "withheld with the only smaller site withheld in this period, which the total less this site would show";

/// The figures of a site or a period's total, as decimal strings; every figure `null` when
/// withheld, with the reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Cells {
    pub headcount: Option<i64>,
    #[schema(example = "1532480.50")]
    pub gross: Option<String>,
    pub net: Option<String>,
    pub employer_cost: Option<String>,
    pub ot_hours: Option<String>,
    pub lop_days: Option<String>,
    /// Working days attended per working day, 0 to 1, to four places.
    #[schema(example = "0.9312")]
    pub attendance_rate: Option<String>,
    /// These figures less the previous period's; absent for the first period with a run, or
    /// when either is withheld.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<&'static str>,
}

impl Cells {
    pub fn shown(figures: &SiteFigures) -> Cells {
        Cells {
            headcount: Some(figures.headcount),
            gross: figures.gross.map(money),
            net: figures.net.map(money),
            employer_cost: figures.employer_cost.map(money),
            ot_hours: Some(figures.ot_hours.to_string()),
            lop_days: Some(figures.lop_days.to_string()),
            attendance_rate: figures.attendance_rate().map(|r| r.to_string()),
            change: None,
            withheld: None,
        }
    }

    pub fn withheld(reason: &'static str) -> Cells {
        Cells {
            withheld: Some(reason),
            ..Cells::default()
        }
    }
}

/// The change of each figure from the period before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub headcount: Option<i64>,
    pub gross: Option<String>,
    pub net: Option<String>,
    pub employer_cost: Option<String>,
    pub ot_hours: Option<String>,
    pub lop_days: Option<String>,
    pub attendance_rate: Option<String>,
}

impl Change {
    /// `now` less `before`, figure by figure.
    pub fn of(now: &SiteFigures, before: &SiteFigures) -> Change {
        let less = |a: Option<Decimal>, b: Option<Decimal>| Some(money(a? - b?));
        Change {
            headcount: Some(now.headcount - before.headcount),
            gross: less(now.gross, before.gross),
            net: less(now.net, before.net),
            employer_cost: less(now.employer_cost, before.employer_cost),
            ot_hours: Some((now.ot_hours - before.ot_hours).to_string()),
            lop_days: Some((now.lop_days - before.lop_days).to_string()),
            attendance_rate: match (now.attendance_rate(), before.attendance_rate()) {
                (Some(now), Some(before)) => Some((now - before).to_string()),
                _ => None,
            },
        }
    }
}

fn money(amount: Decimal) -> String {
    format!("{amount:.2}")
}

/// A period's figures before they are shown: each site's and the total.
#[derive(Debug, Clone, Default)]
pub struct PeriodFigures {
    pub sites: BTreeMap<String, SiteFigures>,
}

impl PeriodFigures {
    pub fn total(&self) -> payroll_engine::Result<SiteFigures> {
        let mut total = SiteFigures::default();
        for figures in self.sites.values() {
            total.add(figures)?;
        }
        Ok(total)
    }

    /// The sites a caller without `pay:view` may not see, and why.
    pub fn withheld(&self) -> BTreeMap<&str, &'static str> {
        let mut withheld: BTreeMap<&str, &'static str> = self
            .sites
            .iter()
            .filter(|(_, f)| f.headcount < SMALLEST_CELL)
            .map(|(site, _)| (site.as_str(), TOO_FEW))
            .collect();
        if withheld.len() == 1 {
            let smallest_shown = self
                .sites
                .iter()
                .filter(|(site, _)| !withheld.contains_key(site.as_str()))
                .min_by_key(|(site, f)| (f.headcount, site.as_str()));
            if let Some((site, _)) = smallest_shown {
                withheld.insert(site, COMPLEMENT);
            }
        }
        withheld
    }
}

/// Why a period's total is withheld from someone without `pay:view`, if it is: it is built from
/// fewer than [`SMALLEST_CELL`] workers.
pub fn total_withheld(total: &SiteFigures) -> Option<&'static str> {
    (total.headcount < SMALLEST_CELL).then_some(TOO_FEW)
}

/// What one site, or the total, shows in a period: its cells with the change from `before`.
pub fn cells(now: &SiteFigures, now_withheld: Option<&'static str>, before: Option<(&SiteFigures, bool)>) -> Cells {
    if let Some(reason) = now_withheld {
        return Cells::withheld(reason);
    }
    let mut cells = Cells::shown(now);
    cells.change = match before {
        Some((before, false)) => Some(Change::of(now, before)),
        _ => None,
    };
    cells
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HeatCell {
    #[schema(value_type = String, example = "2026-10-05")]
    pub date: chrono::NaiveDate,
    pub workers: Option<i64>,
    /// Days attended: present counts 1, a half day 0.5.
    pub attended: Option<String>,
    /// `attended / workers`, to four places.
    pub rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<&'static str>,
}

impl HeatCell {
    pub fn of(date: chrono::NaiveDate, count: DayCount, small_withheld: bool) -> HeatCell {
        if small_withheld && count.workers < SMALLEST_CELL {
            return HeatCell {
                date,
                workers: None,
                attended: None,
                rate: None,
                withheld: Some(TOO_FEW),
            };
        }
        let attended = Decimal::from(count.attended_halves) / Decimal::TWO;
        let rate = (count.workers > 0).then(|| (attended / Decimal::from(count.workers)).round_dp(4));
        HeatCell {
            date,
            workers: Some(count.workers),
            attended: Some(attended.normalize().to_string()),
            rate: rate.map(|r| r.to_string()),
            withheld: None,
        }
    }
}

/// One worker's day on the live board, as the stream wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardDay {
    pub site_id: String,
    pub date: chrono::NaiveDate,
    /// Local minutes after midnight of the day's first `in`.
    pub first_in_minute: Option<i32>,
    pub present: bool,
    pub missed_punch: bool,
    pub open: bool,
}

/// A site's attendance on a day as the stream sees it: checked in now (an `in` not yet closed),
/// present so far (a first `in` or a day's credit), late arrivals (a first `in` after
/// `late_after`), missed punches (an `out` closing nothing, or an `in` left open by a later one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct TodayCells {
    pub checked_in: Option<i64>,
    pub present: Option<i64>,
    pub late: Option<i64>,
    pub missed_punch: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withheld: Option<&'static str>,
}

/// Per site, the board of `date`, and the total; small sites withheld when asked.
pub fn today(
    days: &[BoardDay],
    date: chrono::NaiveDate,
    late_after: i32,
    small_withheld: bool,
) -> (BTreeMap<String, TodayCells>, TodayCells) {
    let mut sites: BTreeMap<String, (TodayCells, i64)> = BTreeMap::new();
    let mut total = (TodayCells::default(), 0);
    for day in days.iter().filter(|d| d.date == date) {
        for (cells, workers) in [sites.entry(day.site_id.clone()).or_default(), &mut total] {
            *workers += 1;
            let add = |cell: &mut Option<i64>, yes: bool| *cell = Some(cell.unwrap_or(0) + i64::from(yes));
            add(&mut cells.checked_in, day.open);
            add(&mut cells.present, day.present || day.first_in_minute.is_some());
            add(&mut cells.late, day.first_in_minute.is_some_and(|m| m > late_after));
            add(&mut cells.missed_punch, day.missed_punch);
        }
    }
    let shown = |(cells, workers): (TodayCells, i64)| match small_withheld && workers < SMALLEST_CELL {
        true => TodayCells {
            withheld: Some(TOO_FEW),
            ..TodayCells::default()
        },
        false => cells,
    };
    (
        sites.into_iter().map(|(site, c)| (site, shown(c))).collect(),
        shown(total),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(headcount: i64, net: i64) -> SiteFigures {
        SiteFigures {
            headcount,
            gross: Some(Decimal::from(net + 100)),
            net: Some(Decimal::from(net)),
            employer_cost: Some(Decimal::from(net + 200)),
            working_days: Decimal::from(26 * headcount),
            lop_days: Decimal::from(headcount),
            ..SiteFigures::default()
        }
    }

    fn period(sites: &[(&str, i64)]) -> PeriodFigures {
        PeriodFigures {
            sites: sites.iter().map(|(s, n)| (s.to_string(), site(*n, 1000 * n))).collect(),
        }
    }

    #[test]
    fn a_site_under_five_is_withheld_with_the_next_smallest_when_alone() {
        let one = period(&[("A", 4), ("B", 7), ("C", 6), ("D", 30)]);
        assert_eq!(
            one.withheld().into_iter().collect::<Vec<_>>(),
            [("A", TOO_FEW), ("C", COMPLEMENT)]
        );
        let two = period(&[("A", 4), ("B", 1), ("D", 30)]);
        assert_eq!(
            two.withheld().into_iter().collect::<Vec<_>>(),
            [("A", TOO_FEW), ("B", TOO_FEW)]
        );
        assert!(period(&[("A", 5), ("B", 5)]).withheld().is_empty());
        // A lone small site with nothing else: withheld, and there is no complement to add.
        assert_eq!(period(&[("A", 3)]).withheld().len(), 1);
    }

    #[test]
    fn a_withheld_cell_shows_no_figure_and_no_change() {
        let now = site(10, 5000);
        let before = site(8, 4000);
        let shown = cells(&now, None, Some((&before, false)));
        assert_eq!(shown.net.as_deref(), Some("5000.00"));
        let change = shown.change.unwrap();
        assert_eq!((change.headcount, change.net.as_deref()), (Some(2), Some("1000.00")));
        assert_eq!(cells(&now, None, Some((&before, true))).change, None);
        let hidden = cells(&now, Some(TOO_FEW), Some((&before, false)));
        assert_eq!(hidden, Cells::withheld(TOO_FEW));
        assert!(hidden.headcount.is_none() && hidden.net.is_none() && hidden.change.is_none());
    }

    #[test]
    fn a_small_heatmap_cell_is_withheld_only_from_who_may_not_see_pay() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        let small = DayCount {
            workers: 4,
            attended_halves: 7,
        };
        assert_eq!(HeatCell::of(date, small, true).withheld, Some(TOO_FEW));
        let shown = HeatCell::of(date, small, false);
        assert_eq!(
            (shown.attended.as_deref(), shown.rate.as_deref()),
            (Some("3.5"), Some("0.8750"))
        );
    }

    #[test]
    fn the_board_counts_the_day_asked_for() {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 10, 5).unwrap();
        let day = |site: &str, minute: Option<i32>, open: bool, missed: bool| BoardDay {
            site_id: site.to_string(),
            date,
            first_in_minute: minute,
            present: minute.is_some(),
            missed_punch: missed,
            open,
        };
        let mut days = vec![
            day("A", Some(9 * 60), true, false),
            day("A", Some(9 * 60 + 31), false, false),
            day("A", None, false, true),
            day("B", Some(8 * 60), false, false),
        ];
        days.push(BoardDay {
            date: date.pred_opt().unwrap(),
            ..day("A", Some(10 * 60), true, false)
        });
        let (sites, total) = today(&days, date, 9 * 60 + 30, false);
        assert_eq!(
            sites["A"],
            TodayCells {
                checked_in: Some(1),
                present: Some(2),
                late: Some(1),
                missed_punch: Some(1),
                withheld: None
            }
        );
        assert_eq!(
            (total.present, total.late, total.checked_in),
            (Some(3), Some(1), Some(1))
        );
        let (hidden, total) = today(&days, date, 9 * 60 + 30, true);
        assert_eq!(hidden["B"].withheld, Some(TOO_FEW));
        assert_eq!(hidden["B"].present, None);
        assert_eq!(total.withheld, Some(TOO_FEW), "4 workers in all");
    }
}
