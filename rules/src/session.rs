//! The DataFusion session components are computed in: DataFusion's own, with rewrites of its
//! physical plans where its general way costs the calculator most (`perf` of `bench calc`):
//! decimal arithmetic checked once per column ([`Arithmetic`]), a `CASE` on a value computed
//! branch by branch on the columns each reads ([`Branches`]), and a `CASE` of conditions
//! computed for the whole batch unless that fails ([`Eager`]). The rewrites are
//! made after DataFusion's own optimisations, so every type, coercion and error of a formula
//! stays DataFusion's, and each answers as the expression it replaces.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::execution::SessionStateBuilder;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::arith::Arithmetic;
use crate::branches::Branches;
use crate::eager::Eager;

/// What an expression standing in for DataFusion's own (its field `planned`) takes from it:
/// equality, hash and how it prints, outside the `PhysicalExpr` impl; inside it
/// (`stands_in!()`), its type, nullability, operands and SQL. The planned expression
/// determines all the rest of the stand-in.
macro_rules! stands_in {
    (for $t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.planned.as_ref() == other.planned.as_ref()
            }
        }

        impl Eq for $t {}

        impl std::hash::Hash for $t {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.planned.as_ref().hash(state);
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.planned.fmt(f)
            }
        }
    };
    () => {
        fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
            self.planned.return_field(input_schema)
        }

        fn data_type(&self, input_schema: &Schema) -> Result<DataType> {
            self.planned.data_type(input_schema)
        }

        fn nullable(&self, input_schema: &Schema) -> Result<bool> {
            self.planned.nullable(input_schema)
        }

        fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
            self.planned.children()
        }

        fn fmt_sql(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.planned.fmt_sql(f)
        }
    };
}
pub(crate) use stands_in;

/// A `CASE` answer as the `CASE`'s type: one of another type (an `ELSE` can be) is cast to it,
/// as DataFusion casts it.
pub(crate) fn as_case_type(values: ArrayRef, data_type: &DataType) -> Result<ArrayRef> {
    match values.data_type() == data_type {
        true => Ok(values),
        false => Ok(cast(&values, data_type)?),
    }
}

/// A session whose plans compute components as [the module](self) says.
pub fn session(config: SessionConfig) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(Rewrites))
        .build();
    SessionContext::new_with_state(state)
}

/// Rewrites the expressions of every projection (the calculator's plans are projections).
#[derive(Debug)]
struct Rewrites;

impl PhysicalOptimizerRule for Rewrites {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(projection) = node.downcast_ref::<ProjectionExec>() else {
                return Ok(Transformed::no(node));
            };
            let input = projection.input().schema();
            let mut rewritten = false;
            let exprs = projection
                .expr()
                .iter()
                .map(|projected| {
                    let expr = Arc::clone(&projected.expr).transform_up(|e| {
                        Arithmetic::rewrite(e, &input)?
                            .transform_data(|e| Branches::rewrite(e, &input))?
                            .transform_data(Eager::rewrite)
                    })?;
                    rewritten |= expr.transformed;
                    Ok(ProjectionExpr {
                        expr: expr.data,
                        alias: projected.alias.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            match rewritten {
                true => Ok(Transformed::yes(
                    Arc::new(ProjectionExec::try_new(exprs, Arc::clone(projection.input()))?) as Arc<dyn ExecutionPlan>,
                )),
                false => Ok(Transformed::no(node)),
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "payroll_components"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, Decimal128Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::physical_plan::collect;

    use super::*;

    fn batch() -> RecordBatch {
        let basis = StringArray::from(vec![
            Some("daily"),
            Some("hourly"),
            None,
            Some("weekly"),
            Some("daily"),
            Some("hourly"),
        ]);
        let rate = Decimal128Array::from(vec![
            Some(70_000),
            Some(9_550),
            Some(80_000),
            Some(100),
            None,
            Some(-1_225),
        ])
        .with_precision_and_scale(14, 2)
        .unwrap();
        let days = Decimal128Array::from(vec![Some(260), Some(35), Some(200), Some(10), Some(20), Some(0)])
            .with_precision_and_scale(7, 1)
            .unwrap();
        let schema = Schema::new(vec![
            Field::new("basis", basis.data_type().clone(), true),
            Field::new("rate", rate.data_type().clone(), true),
            Field::new("days", days.data_type().clone(), false),
        ]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(basis), Arc::new(rate), Arc::new(days)]).unwrap()
    }

    /// `formulas` over [`batch`] in a session and in DataFusion's own, and how many of each
    /// rewrite the session's plan holds.
    async fn both(formulas: &[&str]) -> (Result<Vec<RecordBatch>>, Result<Vec<RecordBatch>>, [usize; 3]) {
        let config = || SessionConfig::new().set_bool("datafusion.sql_parser.parse_float_as_decimal", true);
        let plan = |ctx: SessionContext| async move {
            let df = ctx.read_batch(batch())?.select_exprs(formulas)?;
            let plan = df.create_physical_plan().await?;
            Ok::<_, datafusion::error::DataFusionError>((plan, ctx))
        };
        let (ours, ctx) = plan(session(config())).await.unwrap();
        let (mut arithmetic, mut branches, mut eager) = (0, 0, 0);
        ours.apply(|node| {
            if let Some(projection) = node.downcast_ref::<ProjectionExec>() {
                for projected in projection.expr() {
                    projected.expr.apply(|e| {
                        arithmetic += usize::from(e.downcast_ref::<Arithmetic>().is_some());
                        branches += usize::from(e.downcast_ref::<Branches>().is_some());
                        eager += usize::from(e.downcast_ref::<Eager>().is_some());
                        Ok(TreeNodeRecursion::Continue)
                    })?;
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        let got = collect(ours, ctx.task_ctx()).await;
        let (theirs, ctx) = plan(SessionContext::new_with_config(config())).await.unwrap();
        (
            got,
            collect(theirs, ctx.task_ctx()).await,
            [arithmetic, branches, eager],
        )
    }

    #[tokio::test]
    async fn plans_answer_as_datafusions_own() {
        let (got, expected, rewrites) = both(&[
            "rate * rate - days",
            "CASE basis WHEN 'daily' THEN rate * days WHEN 'hourly' THEN rate * days / 8 END",
            "CASE basis WHEN 'daily' THEN rate WHEN 'hourly' THEN days ELSE 0.5 END",
            // A branch no row takes is never computed: its division by zero fails nothing.
            "CASE basis WHEN 'monthly' THEN rate / 0 WHEN 'daily' THEN 1.25 * rate END",
            "CASE WHEN rate > 500 THEN rate * days WHEN days > 3 THEN days ELSE 0 END",
            "CASE WHEN basis = 'hourly' THEN rate * days END",
            // Computed whole, a division by zero (days is 0 in the last row) fails: the rows
            // are computed again DataFusion's way, which never divides for that row.
            "CASE WHEN days > 0 THEN rate / days ELSE 0 END",
        ])
        .await;
        assert_eq!(rewrites, [7, 3, 3]);
        let (got, expected) = (got.unwrap(), expected.unwrap());
        assert_eq!(got, expected);
        assert_eq!(got[0].num_rows(), 6);
    }

    #[tokio::test]
    async fn a_branch_that_fails_for_its_rows_fails_as_datafusions_own() {
        let (got, expected, rewrites) = both(&[
            "CASE basis WHEN 'hourly' THEN rate / days WHEN 'daily' THEN rate END",
            "CASE WHEN days < 1 THEN rate / days ELSE rate END",
        ])
        .await;
        assert_eq!(rewrites, [0, 1, 1]);
        let (got, expected) = (got.unwrap_err(), expected.unwrap_err());
        assert_eq!(got.to_string(), expected.to_string());
    }
}
