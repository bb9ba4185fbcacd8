//! A component's `when` as a choice between its formula and zero, both computed for every
//! worker of a batch, where the formula cannot fail: DataFusion's `CASE` filters the rows of
//! each branch out of the batch and merges the answers back, which costs more than the
//! formula itself (`perf` of `bench calc`: a sixth of its samples). A formula that can fail
//! keeps the `CASE`, so a worker the `when` leaves out can never fail the run.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Datum};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::prep_null_mask_filter;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, exec_err};
use datafusion::logical_expr::expr::Cast;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, Operator, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::table::TableFn;

/// Whether `expr` gives every row a value or NULL and never an error, so that it can be
/// computed for the workers a `when` leaves out. What can fail is arithmetic past 38 digits, a
/// cast that narrows, a division and any function not named here, so `expr` may hold only
/// columns and literals; comparisons, AND, OR, NOT and the IS tests; lookups of a table whose
/// values fit its type (a miss is NULL); `least`, `greatest`, `coalesce` and `nullif`; casts
/// that widen; and +, - and * of decimals whose exact result has at most 38 digits.
///
/// That last rule trusts an operand's precision when it is below 38: DataFusion derives a
/// component's from its formula and caps it at 38, and an input's values are checked into it
/// (an amount has at most 12 digits before the point).
pub(crate) fn cannot_fail(expr: &Expr, schema: &DFSchema) -> bool {
    let ok = |e: &Expr| cannot_fail(e, schema);
    let decimal = |e: &Expr| match e.get_type(schema) {
        Ok(DataType::Decimal128(p, s)) if p < 38 => Some((i32::from(p), i32::from(s))),
        _ => None,
    };
    match expr {
        Expr::Column(_) | Expr::Literal(..) => true,
        Expr::Alias(alias) => ok(&alias.expr),
        Expr::Not(e)
        | Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsTrue(e)
        | Expr::IsFalse(e)
        | Expr::IsNotTrue(e)
        | Expr::IsNotFalse(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotUnknown(e) => ok(e),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            use Operator::*;
            ok(left)
                && ok(right)
                && match op {
                    Eq | NotEq | Lt | LtEq | Gt | GtEq | And | Or | IsDistinctFrom | IsNotDistinctFrom => true,
                    // Both are brought to the larger scale, then added.
                    Plus | Minus => match (decimal(left), decimal(right)) {
                        (Some((p1, s1)), Some((p2, s2))) => (p1 - s1).max(p2 - s2) + s1.max(s2) < 38,
                        _ => false,
                    },
                    Multiply => {
                        matches!((decimal(left), decimal(right)), (Some((p1, _)), Some((p2, _))) if p1 + p2 <= 38)
                    }
                    _ => false,
                }
        }
        Expr::Cast(Cast { expr: inner, field }) => ok(inner) && widens(inner.get_type(schema).ok(), field.data_type()),
        Expr::ScalarFunction(f) => {
            f.args.iter().all(ok)
                && (matches!(f.name(), "least" | "greatest" | "coalesce" | "nullif")
                    || f.func
                        .inner()
                        .downcast_ref::<TableFn>()
                        .is_some_and(TableFn::values_fit))
        }
        _ => false,
    }
}

/// Whether every value of type `from` is one of `to`: an integer or decimal into a decimal
/// with as many digits before the point and as many after.
fn widens(from: Option<DataType>, to: &DataType) -> bool {
    use DataType::*;
    let Decimal128(p, s) = *to else {
        return from.as_ref() == Some(to);
    };
    let (before, after) = (i32::from(p) - i32::from(s), i32::from(s));
    match from {
        Some(Decimal128(p0, s0)) => i32::from(p0) - i32::from(s0) <= before && i32::from(s0) <= after,
        Some(Int8 | UInt8) => before >= 3,
        Some(Int16 | UInt16) => before >= 5,
        Some(Int32 | UInt32) => before >= 10,
        Some(Int64) => before >= 19,
        Some(UInt64) => before >= 20,
        _ => false,
    }
}

/// `CASE WHEN condition THEN then ELSE otherwise END` for a `then` that gives a value or NULL
/// for every row and never an error; `otherwise` is of `then`'s type.
pub(crate) fn choose(condition: Expr, then: Expr, otherwise: Expr) -> Expr {
    ScalarUDF::from(Choose {
        signature: Signature::any(3, Volatility::Immutable),
    })
    .call(vec![condition, then, otherwise])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Choose {
    signature: Signature,
}

impl ScalarUDFImpl for Choose {
    fn name(&self) -> &str {
        "when_else"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [DataType::Boolean, then, otherwise] if then == otherwise => Ok(then.clone()),
            _ => exec_err!("when_else takes a condition and two values of one type, not {arg_types:?}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let [condition, then, otherwise] = &args.args[..] else {
            return exec_err!("when_else takes three arguments");
        };
        let condition = condition.to_array(n)?;
        let Some(condition) = condition.as_boolean_opt() else {
            return exec_err!(
                "when_else: the condition is {}, not true or false",
                condition.data_type()
            );
        };
        // A condition that is NULL does not hold, as in `CASE`.
        let mask = match condition.null_count() {
            0 => condition.clone(),
            _ => prep_null_mask_filter(condition),
        };
        let datum = |value: &ColumnarValue| -> Result<Box<dyn Datum>> {
            Ok(match value {
                ColumnarValue::Array(array) => Box::new(Arc::clone(array)),
                ColumnarValue::Scalar(scalar) => Box::new(scalar.to_scalar()?),
            })
        };
        let chosen = zip(&mask, datum(then)?.as_ref(), datum(otherwise)?.as_ref())?;
        Ok(ColumnarValue::Array(chosen))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::Ruleset;

    /// Which `when` components are chosen between two computed columns and which keep a CASE:
    /// what `tests/cases/when.toml` checks both read the same for.
    #[test]
    fn a_formula_that_can_fail_keeps_its_case() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases/when.toml");
        let ruleset = Ruleset::load(&file).unwrap();
        let version = ruleset
            .version_on(chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
            .unwrap();
        let chosen = |name: &str| {
            let expr = version.plans[name].expr.to_string();
            assert!(expr.contains("when_else") != expr.contains("CASE"), "{name}: {expr}");
            expr.contains("when_else")
        };
        let kinds: Vec<(&str, bool)> = [
            "by_skill",
            "by_skill_divided",
            "cubed",
            "doubled",
            "high_rate",
            "until_exit",
        ]
        .into_iter()
        .map(|name| (name, chosen(name)))
        .collect();
        assert_eq!(
            kinds,
            [
                ("by_skill", true),
                ("by_skill_divided", false),
                ("cubed", false),
                ("doubled", true),
                ("high_rate", true),
                ("until_exit", true),
            ]
        );
        let example = Ruleset::parse(crate::EXAMPLE_RULESET, Path::new("india-contract.toml")).unwrap();
        let example = example
            .version_on(chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
            .unwrap();
        // `0.0075 * gross` could reach 40 digits by its types (gross is a DECIMAL(36, 2)), so
        // the ESI components keep their CASE.
        let example: Vec<(&str, bool)> = [
            "pf_wage",
            "esi_employee",
            "esi_employer",
            "lwf_employee",
            "lwf_employer",
        ]
        .into_iter()
        .map(|name| (name, example.plans[name].expr.to_string().contains("when_else")))
        .collect();
        assert_eq!(
            example,
            [
                ("pf_wage", true),
                ("esi_employee", false),
                ("esi_employer", false),
                ("lwf_employee", true),
                ("lwf_employer", true),
            ]
        );
    }
}
