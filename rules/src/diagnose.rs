//! Why a component has no value for a worker: the innermost part of its formula that gave no
//! value while what it read had one. A table with no row for the worker's keys, a division by
//! zero, a `CASE` with no branch for the worker's inputs and no `ELSE`, a NULL input: each is
//! named with the values that caused it, so HR knows what to fix (the table, the master data or
//! the formula). Only the rows without a value are walked, so a run pays for this only when
//! some worker has no value.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{BinaryExpr, Case, Expr, Operator};
use datafusion::physical_expr::create_physical_expr;

use crate::compile::{CompiledVersion, zero_guarded_divisor};
use crate::table::Table;

impl CompiledVersion {
    /// Why `component` has no value in each row of `rows` (result rows of this version: the
    /// inputs and every component), one entry per row: `None` where it has a value.
    pub fn why_no_value(&self, component: &str, rows: &RecordBatch) -> Vec<Option<String>> {
        let n = rows.num_rows();
        let mut out = vec![None; n];
        let Some(column) = rows.column_by_name(component) else {
            return out;
        };
        let missing: Vec<usize> = (0..n).filter(|&r| column.is_null(r)).collect();
        let Some(plan) = self.plans.get(component) else {
            return out;
        };
        let walker = Walker::new(self, rows);
        match &plan.condition {
            None => walker.explain(&plan.formula, &missing, &mut out),
            Some(condition) => {
                // Where the condition holds the formula gave no value; elsewhere the condition
                // divided by zero (a false condition gives 0 or false, never no value).
                let holds = walker.values(condition);
                let (formula_rows, condition_rows): (Vec<usize>, Vec<usize>) = missing.iter().partition(|&&r| {
                    holds
                        .as_ref()
                        .and_then(|h| h.as_boolean_opt())
                        .is_some_and(|h| h.is_valid(r) && h.value(r))
                });
                walker.explain(&plan.formula, &formula_rows, &mut out);
                for r in condition_rows {
                    out[r] = walker
                        .zero_divisor(condition, r)
                        .map(|d| format!("division by zero in the `when` condition: `{d}` is 0"));
                }
            }
        }
        let line = self.component(component).map_or(0, |c| c.line);
        for r in missing {
            out[r].get_or_insert_with(|| format!("its formula (line {line}) yielded no value"));
        }
        out
    }
}

/// Evaluates parts of a formula over the rows being explained.
struct Walker<'a> {
    tables: &'a [std::sync::Arc<Table>],
    rows: &'a RecordBatch,
    schema: Option<DFSchema>,
    props: ExecutionProps,
}

impl<'a> Walker<'a> {
    fn new(version: &'a CompiledVersion, rows: &'a RecordBatch) -> Self {
        Walker {
            tables: &version.tables,
            rows,
            schema: DFSchema::try_from(rows.schema().as_ref().clone()).ok(),
            props: ExecutionProps::new(),
        }
    }

    /// `expr` over every row; `None` if it cannot be evaluated on its own (then the reason
    /// stays the generic one).
    fn values(&self, expr: &Expr) -> Option<ArrayRef> {
        let context = PhysicalPlanningContext::default();
        let physical = create_physical_expr(expr, self.schema.as_ref()?, &self.props, &context).ok()?;
        physical.evaluate(self.rows).ok()?.into_array(self.rows.num_rows()).ok()
    }

    /// Says why `expr` has no value at each of `rows` (it has none there).
    #[allow(clippy::expect_used, reason = "matched by the guard")]
    fn explain(&self, expr: &Expr, rows: &[usize], out: &mut [Option<String>]) {
        if rows.is_empty() {
            return;
        }
        match expr {
            Expr::Alias(alias) => self.explain(&alias.expr, rows, out),
            Expr::Case(case) => self.explain_case(case, rows, out),
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Divide | Operator::Modulo,
                right,
            }) if zero_guarded_divisor(right).is_some() => {
                let divisor = zero_guarded_divisor(right).expect("matched by the guard");
                self.explain_division(left, divisor, rows, out);
            }
            Expr::ScalarFunction(f) if self.table(f.name()).is_some() => {
                let table = self.table(f.name()).expect("matched by the guard");
                let args: Option<Vec<ArrayRef>> = f.args.iter().map(|a| self.values(a)).collect();
                for &r in rows {
                    out[r] = args.as_ref().and_then(|args| table.miss_reason(args, r).ok().flatten());
                }
            }
            Expr::Column(column) => {
                for &r in rows {
                    out[r] = Some(format!("`{}` has no value", column.name));
                }
            }
            Expr::Literal(..) => {
                for &r in rows {
                    out[r] = Some("the formula gives NULL for this worker".to_string());
                }
            }
            _ => self.explain_by_operands(expr, rows, out),
        }
    }

    /// The first operand without a value is why; if all have one, the expression itself.
    fn explain_by_operands(&self, expr: &Expr, rows: &[usize], out: &mut [Option<String>]) {
        let mut operands = Vec::new();
        let _ = expr.apply_children(|child| {
            operands.push(child);
            Ok(TreeNodeRecursion::Continue)
        });
        let values: Vec<Option<ArrayRef>> = operands.iter().map(|o| self.values(o)).collect();
        let mut by_operand: Vec<Vec<usize>> = vec![Vec::new(); operands.len()];
        for &r in rows {
            match values.iter().position(|v| v.as_ref().is_some_and(|v| no_value(v, r))) {
                Some(i) => by_operand[i].push(r),
                None => out[r] = Some(format!("`{}` gives no value", as_written(expr))),
            }
        }
        for (operand, rows) in operands.into_iter().zip(by_operand) {
            self.explain(operand, &rows, out);
        }
    }

    fn explain_division(&self, dividend: &Expr, divisor: &Expr, rows: &[usize], out: &mut [Option<String>]) {
        let (dividend_values, divisor_values) = (self.values(dividend), self.values(divisor));
        let null_in = |v: &Option<ArrayRef>, r: usize| v.as_ref().is_some_and(|v| no_value(v, r));
        let (mut of_dividend, mut of_divisor) = (Vec::new(), Vec::new());
        for &r in rows {
            if null_in(&dividend_values, r) {
                of_dividend.push(r);
            } else if null_in(&divisor_values, r) {
                of_divisor.push(r);
            } else if divisor_values.as_ref().is_some_and(|v| is_zero(v, r)) {
                out[r] = Some(format!("division by zero: `{}` is 0", as_written(divisor)));
            }
        }
        self.explain(dividend, &of_dividend, out);
        self.explain(divisor, &of_divisor, out);
    }

    /// The branch each row took: its `THEN` is why; no branch and no `ELSE` is the reason.
    fn explain_case(&self, case: &Case, rows: &[usize], out: &mut [Option<String>]) {
        let base = case.expr.as_ref().map(|b| (b, self.values(b)));
        let matched: Vec<Option<BooleanArray>> = case
            .when_then_expr
            .iter()
            .map(|(when, _)| {
                let when = self.values(when)?;
                match &base {
                    Some((_, base)) => eq(base.as_ref()?, &when).ok(),
                    None => when.as_boolean_opt().cloned(),
                }
            })
            .collect();
        let mut by_branch: Vec<Vec<usize>> = vec![Vec::new(); matched.len()];
        let mut by_else = Vec::new();
        for &r in rows {
            let mut taken = None;
            for (i, m) in matched.iter().enumerate() {
                let Some(m) = m else {
                    // Unknown from here on: the generic reason stays.
                    taken = Some(None);
                    break;
                };
                if m.is_valid(r) && m.value(r) {
                    taken = Some(Some(i));
                    break;
                }
            }
            match taken {
                Some(Some(i)) => by_branch[i].push(r),
                Some(None) => {}
                None => by_else.push(r),
            }
        }
        for ((_, then), rows) in case.when_then_expr.iter().zip(by_branch) {
            self.explain(then, &rows, out);
        }
        match &case.else_expr {
            Some(otherwise) => self.explain(otherwise, &by_else, out),
            None => {
                for r in by_else {
                    out[r] = Some(match &base {
                        Some((expr, values)) => {
                            let value = values.as_ref().map_or_else(|| "?".to_string(), |v| quoted(v, r));
                            format!(
                                "no branch of the CASE matches {}={value} and it has no ELSE",
                                as_written(expr)
                            )
                        }
                        None => "no WHEN of the CASE holds for this worker and it has no ELSE".to_string(),
                    });
                }
            }
        }
    }

    /// The first divisor in `expr` that is 0 at `row`, as written.
    fn zero_divisor(&self, expr: &Expr, row: usize) -> Option<String> {
        let mut divisors = Vec::new();
        let _ = expr.apply(|e| {
            if let Some(divisor) = zero_guarded_divisor(e) {
                divisors.push(divisor);
            }
            Ok(TreeNodeRecursion::Continue)
        });
        divisors
            .into_iter()
            .find(|d| self.values(d).is_some_and(|v| is_zero(&v, row)))
            .map(as_written)
    }

    fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name).map(|t| t.as_ref())
    }
}

/// An expression as the formula wrote it: without the zero guards on divisors the compiler adds.
fn as_written(expr: &Expr) -> String {
    let unguarded = expr
        .clone()
        .transform_up(|e| {
            Ok(match zero_guarded_divisor(&e) {
                Some(divisor) => Transformed::yes(divisor.clone()),
                None => Transformed::no(e),
            })
        })
        .map_or_else(|_| expr.clone(), |t| t.data);
    unguarded.human_display().to_string()
}

/// NULL at `row`, a NULL literal's array (which has no validity buffer) included.
fn no_value(values: &ArrayRef, row: usize) -> bool {
    values.logical_nulls().is_some_and(|nulls| nulls.is_null(row))
}

fn is_zero(values: &ArrayRef, row: usize) -> bool {
    !no_value(values, row) && ScalarValue::try_from_array(values, row).is_ok_and(|v| crate::compile::is_zero(&v))
}

/// A value as a reason shows it: `skilled` in backquotes, or NULL.
fn quoted(values: &ArrayRef, row: usize) -> String {
    if no_value(values, row) {
        return "NULL".to_string();
    }
    array_value_to_string(values, row).map_or_else(|_| "?".to_string(), |v| format!("`{v}`"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::Ruleset;
    use crate::testcase::inputs_row;
    use crate::vocabulary::PayPeriod;

    const RULESET: &str = r#"
name = "reasons"
version = "2026.10"
effective_from = "2026-10-01"

[[component]]
name = "min_wage"
category = "intermediate"
expr = "min_wage(skill, state)"

[[component]]
name = "pt"
category = "deduction"
expr = "pt(state, rate)"

[[component]]
name = "per_day"
category = "intermediate"
expr = "rate / present_days"

[[component]]
name = "per_hour"
category = "intermediate"
expr = "rate / (worked_minutes / 60)"

[[component]]
name = "grade"
category = "earning"
expr = "CASE skill WHEN 'skilled' THEN 500.00 WHEN 'unskilled' THEN 0.00 END"

[[component]]
name = "searched"
category = "earning"
expr = "CASE WHEN rate > 1000 THEN 1.00 WHEN rate > 500 THEN 0.50 END"

[[component]]
name = "nested"
category = "earning"
expr = "CASE WHEN rate > 0 THEN min_wage(skill, state) * 2 ELSE 0.00 END"

[[component]]
name = "blank"
category = "earning"
expr = "CASE WHEN rate > 0 THEN NULL ELSE 1.00 END"

[[component]]
name = "bonus"
category = "earning"
when = "present_days / working_days >= 0.9"
expr = "100.00"

[tables.min_wage]
match = ["skill", "state"]
rows = [{ skill = "unskilled", state = "MH", value = "783" }]

[tables.pt]
match = ["state"]
range = "rate"
rows = [{ state = "MH", upto = "1000", value = "0" }]
"#;

    /// A component, the inputs it is computed from, and why it has no value (`None`: it has one).
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        Option<&'static str>,
    );

    const CASES: &[Case] = &[
        (
            "min_wage",
            &[("skill", "unskilled"), ("state", "KA")],
            Some("no row of table `min_wage` for skill=`unskilled`, state=`KA`"),
        ),
        ("min_wage", &[("skill", "unskilled"), ("state", "MH")], None),
        (
            "min_wage",
            &[("skill", "unskilled")],
            Some("no row of table `min_wage` for skill=`unskilled`, state=``"),
        ),
        (
            "pt",
            &[("state", "MH"), ("rate", "1500.00")],
            Some("no row of table `pt` for state=`MH`, rate=`1500.00`"),
        ),
        ("pt", &[("state", "MH"), ("rate", "1000.00")], None),
        (
            "per_day",
            &[("rate", "800.00"), ("present_days", "0")],
            Some("division by zero: `present_days` is 0"),
        ),
        ("per_day", &[("rate", "800.00"), ("present_days", "0.5")], None),
        (
            "per_hour",
            &[("rate", "800.00"), ("worked_minutes", "30")],
            Some("division by zero: `worked_minutes / 60` is 0"),
        ),
        (
            "grade",
            &[("skill", "semi_skilled")],
            Some("no branch of the CASE matches skill=`semi_skilled` and it has no ELSE"),
        ),
        ("grade", &[("skill", "skilled")], None),
        (
            "searched",
            &[("rate", "100.00")],
            Some("no WHEN of the CASE holds for this worker and it has no ELSE"),
        ),
        (
            "nested",
            &[("rate", "100.00"), ("skill", "skilled"), ("state", "KA")],
            Some("no row of table `min_wage` for skill=`skilled`, state=`KA`"),
        ),
        ("nested", &[("rate", "0.00"), ("skill", "skilled")], None),
        (
            "blank",
            &[("rate", "100.00")],
            Some("the formula gives NULL for this worker"),
        ),
        (
            "bonus",
            &[("present_days", "5"), ("working_days", "0")],
            Some("division by zero in the `when` condition: `working_days` is 0"),
        ),
        ("bonus", &[("present_days", "5"), ("working_days", "10")], None),
    ];

    #[tokio::test]
    async fn each_way_to_have_no_value_is_named_with_its_values() {
        let ruleset = Ruleset::parse(RULESET, std::path::Path::new("reasons.toml")).unwrap();
        let period = PayPeriod { year: 2026, month: 10 };
        let version = ruleset.version_on(period.first_day()).unwrap();
        let mut wrong = Vec::new();
        for (component, inputs, want) in CASES {
            let inputs: BTreeMap<String, String> = inputs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let results = version.evaluate(inputs_row(period, &inputs).unwrap()).await.unwrap();
            let got = version.why_no_value(component, &results[0]).remove(0);
            if got.as_deref() != *want {
                wrong.push(format!("{component} {inputs:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
