//! Who may do what: the permissions, and the roles that grant them (the seeds each org's role
//! table starts from, and the config's overrides).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One thing a role may do. The wire names are what `[roles]` in the config lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Trigger and cancel runs.
    #[serde(rename = "runs:trigger")]
    TriggerRuns,
    /// See runs, their status and progress (amounts need `pay:view`).
    #[serde(rename = "runs:view")]
    ViewRuns,
    /// Approve or reject final runs.
    #[serde(rename = "runs:approve")]
    ApproveRuns,
    /// Exclude workers a final run could not compute, so it can be approved without them.
    #[serde(rename = "runs:exclude")]
    ExcludeWorkers,
    /// Salary data: totals, results, pay-to-date, explain.
    #[serde(rename = "pay:view")]
    ViewPay,
    /// Results without the personal columns (name, UAN, ESIC, bank, PAN).
    #[serde(rename = "results:anonymized")]
    ReadAnonymizedResults,
    /// Payslip PDF and XLSX of any worker of the org.
    #[serde(rename = "payslips:download")]
    DownloadPayslips,
    /// The payroll register.
    #[serde(rename = "register:download")]
    DownloadRegister,
    /// Dead-letter counts and reasons of a run.
    #[serde(rename = "dead_letters:view")]
    ViewDeadLetters,
    #[serde(rename = "schedule:edit")]
    EditSchedule,
    /// The caller's own pay-to-date and payslips (`sub` is their worker id).
    #[serde(rename = "pay:own")]
    ViewOwnPay,
    /// The org's audit log.
    #[serde(rename = "audit:view")]
    ViewAudit,
    /// Request a manual adjustment (it waits for a second person).
    #[serde(rename = "adjustments:request")]
    RequestAdjustments,
    /// Approve or reject another user's adjustment.
    #[serde(rename = "adjustments:approve")]
    ApproveAdjustments,
    /// Read and change what each role of the org may do.
    #[serde(rename = "roles:manage")]
    ManageRoles,
    /// Upload a file of attendance summaries, adjustments (each pending a second person) or
    /// workers, and read its progress and error report.
    #[serde(rename = "upload")]
    Upload,
    /// Make a bank payout of a finalized run, and record the bank's return file for it (a
    /// return waits for a second person).
    #[serde(rename = "payouts:create")]
    CreatePayouts,
    /// Read a payout and download its files (full account numbers: every download is audited).
    #[serde(rename = "payouts:view")]
    ViewPayouts,
    /// Approve or reject a bank return another user recorded: an approved one is paid again by
    /// the run's next payout.
    #[serde(rename = "payouts:approve")]
    ApprovePayouts,
    /// Approve or reject a workers upload another user made: its new workers and changed
    /// fields (bank account, rate, phone) reach the master only once approved.
    #[serde(rename = "workers:approve")]
    ApproveWorkers,
    /// The statutory returns of a finalized run (EPFO ECR, ESIC sheet) and their exceptions.
    #[serde(rename = "returns:download")]
    DownloadReturns,
    /// The delivery status of a run's payslip notices (recipients masked).
    #[serde(rename = "notices:view")]
    ViewNotices,
    /// Send a dead-lettered payslip notice again.
    #[serde(rename = "notices:retry")]
    RetryNotices,
    /// Acknowledge a run's finding, saying why: an open `block` finding keeps a final run from
    /// approval.
    #[serde(rename = "findings:acknowledge")]
    AcknowledgeFindings,
    /// Preview a period's pay under another ruleset or other rates (its totals; per-worker
    /// figures need `pay:view`).
    #[serde(rename = "previews:run")]
    RunPreviews,
    /// Figures per period and site (headcount, pay, cost, overtime, attendance) and the
    /// attendance heatmap; without `pay:view`, figures of fewer than 5 workers are withheld.
    #[serde(rename = "insights:view")]
    ViewInsights,
}

pub type Permissions = BTreeSet<Permission>;

/// Role name to what it may do: the defaults, overridden per role by the config's `[roles]`.
/// These seed each org's roles in the database (`db::roles`), where `org_admin` edits them.
#[derive(Debug, Clone)]
pub struct Roles(BTreeMap<String, Permissions>);

impl Roles {
    pub fn with_overrides(overrides: &BTreeMap<String, Permissions>) -> Roles {
        use Permission::*;
        let mut roles: BTreeMap<String, Permissions> = [
            (
                "hr_admin",
                &[
                    TriggerRuns,
                    ViewRuns,
                    ExcludeWorkers,
                    ViewPay,
                    DownloadPayslips,
                    DownloadRegister,
                    DownloadReturns,
                    ViewDeadLetters,
                    EditSchedule,
                    ViewAudit,
                    RequestAdjustments,
                    Upload,
                    ViewNotices,
                    RetryNotices,
                    AcknowledgeFindings,
                    RunPreviews,
                    ViewInsights,
                ][..],
            ),
            (
                "approver",
                &[
                    ViewRuns,
                    ApproveRuns,
                    ExcludeWorkers,
                    ViewPay,
                    DownloadPayslips,
                    ViewAudit,
                    ApproveAdjustments,
                    CreatePayouts,
                    ViewPayouts,
                    ApprovePayouts,
                    ApproveWorkers,
                    AcknowledgeFindings,
                    ViewInsights,
                ][..],
            ),
            ("ops_viewer", &[ViewRuns, ViewDeadLetters, ViewNotices][..]),
            (
                "analyst",
                &[ViewRuns, ReadAnonymizedResults, RunPreviews, ViewInsights][..],
            ),
            ("worker", &[ViewOwnPay][..]),
            (
                "org_admin",
                &[
                    TriggerRuns,
                    ViewRuns,
                    ApproveRuns,
                    ExcludeWorkers,
                    ViewPay,
                    DownloadPayslips,
                    DownloadRegister,
                    DownloadReturns,
                    ViewDeadLetters,
                    EditSchedule,
                    ViewAudit,
                    RequestAdjustments,
                    ApproveAdjustments,
                    ManageRoles,
                    CreatePayouts,
                    ViewPayouts,
                    ApprovePayouts,
                    ApproveWorkers,
                    Upload,
                    ViewNotices,
                    RetryNotices,
                    AcknowledgeFindings,
                    RunPreviews,
                    ViewInsights,
                ][..],
            ),
        ]
        .into_iter()
        .map(|(role, permissions)| (role.to_string(), permissions.iter().copied().collect()))
        .collect();
        roles.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Roles(roles)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Permissions)> {
        self.0.iter().map(|(role, permissions)| (role.as_str(), permissions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(roles: &Roles, role: &str) -> Option<Permissions> {
        roles.iter().find(|(name, _)| *name == role).map(|(_, p)| p.clone())
    }

    #[test]
    fn roles_grant_the_default_table_and_config_overrides() {
        let roles = Roles::with_overrides(&BTreeMap::new());
        let ops = of(&roles, "ops_viewer").unwrap();
        assert!(ops.contains(&Permission::ViewRuns) && !ops.contains(&Permission::ViewPay));
        assert!(of(&roles, "org_admin").unwrap().contains(&Permission::ManageRoles));
        assert_eq!(of(&roles, "nobody"), None);

        let overrides = BTreeMap::from([("ops_viewer".to_string(), Permissions::from([Permission::ViewPay]))]);
        let roles = Roles::with_overrides(&overrides);
        assert_eq!(of(&roles, "ops_viewer"), Some(Permissions::from([Permission::ViewPay])));
    }

    #[test]
    fn permissions_have_their_config_names() {
        let parsed: Permissions = serde_json::from_str(r#"["runs:trigger", "pay:own"]"#).unwrap();
        assert_eq!(
            parsed,
            Permissions::from([Permission::TriggerRuns, Permission::ViewOwnPay])
        );
    }
}
