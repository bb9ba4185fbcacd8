//! Per-component rounding, exact on `Decimal128`: each component rounds once, as its rule says.
//! DataFusion's own `round` depends on the version's decimal semantics; payroll needs half-up,
//! ceiling and floor to a power of ten pinned by our tests, so it is a UDF of ours.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type};
use datafusion::arrow::error::ArrowError;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde::Deserialize;

/// How a component's exact value becomes its paid value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Rounding {
    /// Exact: the value keeps the scale its formula gives.
    #[default]
    None,
    /// Half away from zero, to `places` decimals (2 = paise, 0 = rupees).
    HalfUp { places: u8 },
    /// Towards +infinity.
    Ceil { places: u8 },
    /// Towards -infinity.
    Floor { places: u8 },
}

const MAX_PLACES: u8 = 6;

impl TryFrom<String> for Rounding {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::str::FromStr for Rounding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = || {
            format!(
                "invalid rounding `{s}`: expected `none`, `half_up(STEP)`, `ceil(STEP)` or `floor(STEP)` \
                 with STEP a power of ten from 1 down to 0.000001, e.g. `half_up(0.01)`"
            )
        };
        let s = s.trim();
        if s == "none" {
            return Ok(Rounding::None);
        }
        let (mode, rest) = s.split_once('(').ok_or_else(expected)?;
        let step = rest.strip_suffix(')').ok_or_else(expected)?.trim();
        let places = match step {
            "1" => 0,
            _ => {
                let digits = step.strip_prefix("0.").ok_or_else(expected)?;
                // By characters, not bytes: `0.é` must be refused, not split inside a character.
                let zeros = digits.strip_suffix('1').ok_or_else(expected)?;
                if zeros.chars().any(|c| c != '0') || digits.len() > usize::from(MAX_PLACES) {
                    return Err(expected());
                }
                digits.len() as u8
            }
        };
        if places > MAX_PLACES {
            return Err(expected());
        }
        match mode.trim() {
            "half_up" => Ok(Rounding::HalfUp { places }),
            "ceil" => Ok(Rounding::Ceil { places }),
            "floor" => Ok(Rounding::Floor { places }),
            _ => Err(expected()),
        }
    }
}

impl fmt::Display for Rounding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mode, places) = match *self {
            Rounding::None => return f.write_str("none"),
            Rounding::HalfUp { places } => ("half_up", places),
            Rounding::Ceil { places } => ("ceil", places),
            Rounding::Floor { places } => ("floor", places),
        };
        if places == 0 {
            write!(f, "{mode}(1)")
        } else {
            write!(f, "{mode}(0.{}1)", "0".repeat(places as usize - 1))
        }
    }
}

impl Rounding {
    fn places(self) -> Option<u8> {
        match self {
            Rounding::None => None,
            Rounding::HalfUp { places } | Rounding::Ceil { places } | Rounding::Floor { places } => Some(places),
        }
    }

    /// Wraps `expr` so it rounds; `None` leaves it as it is.
    pub fn apply(self, expr: Expr) -> Expr {
        match self {
            Rounding::None => expr,
            _ => ScalarUDF::from(RoundUdf::new(self)).call(vec![expr]),
        }
    }

    /// This rounding for unscaled decimals of scale `scale`: the power of ten between the two
    /// scales is worked out once for a column, not once per value.
    pub(crate) fn at_scale(self, scale: i8) -> Rounder {
        let Some(places) = self.places() else {
            return Rounder {
                rounding: self,
                step: Step::Exact,
            };
        };
        let shift = scale as i32 - places as i32;
        let step = match 10i128.checked_pow(shift.unsigned_abs()) {
            None => Step::Overflow,
            Some(1) => Step::Exact,
            Some(factor) if shift < 0 => Step::Scale(factor),
            Some(factor) => Step::Divide(factor),
        };
        Rounder { rounding: self, step }
    }
}

/// A [`Rounding`] for values of one scale.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rounder {
    rounding: Rounding,
    step: Step,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// The value is already at the rounding's places (or the rounding is `none`).
    Exact,
    /// Fewer places than the rounding's: scaled up by this factor, nothing to round.
    Scale(i128),
    /// More places: divided by this factor, and the remainder decides.
    Divide(i128),
    /// The scales are more than 38 places apart: no value can be brought across.
    Overflow,
}

impl Rounder {
    /// `value` rounded to the rounding's places, unscaled at them; `None` when that does not fit
    /// an `i128`. Inlined into the loop over a column, where it used to be a call per value.
    #[inline(always)]
    pub(crate) fn round(&self, value: i128) -> Option<i128> {
        let factor = match self.step {
            Step::Exact => return Some(value),
            Step::Scale(factor) => return factor.checked_mul(value),
            Step::Divide(factor) => factor,
            Step::Overflow => return None,
        };
        // Pay fits 64 bits: their division is several times cheaper than 128 bits'.
        let (quotient, remainder) = match (i64::try_from(value), i64::try_from(factor)) {
            (Ok(v), Ok(f)) => ((v / f) as i128, (v % f) as i128),
            _ => divide_wide(value, factor),
        };
        if remainder == 0 {
            return Some(quotient);
        }
        // `remainder * 2 >= factor`, without the doubling that can overflow.
        let at_least_half = remainder.abs() >= factor - remainder.abs();
        Some(match self.rounding {
            Rounding::HalfUp { .. } if at_least_half => quotient + value.signum(),
            Rounding::Ceil { .. } if remainder > 0 => quotient + 1,
            Rounding::Floor { .. } if remainder < 0 => quotient - 1,
            _ => quotient,
        })
    }
}

/// Kept out of line so the 64-bit path of [`Rounder::round`] is small enough to be inlined
/// into the loop over a column.
#[cold]
#[inline(never)]
fn divide_wide(value: i128, factor: i128) -> (i128, i128) {
    (value / factor, value % factor)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundUdf {
    rounding: Rounding,
    name: String,
    signature: Signature,
}

impl RoundUdf {
    fn new(rounding: Rounding) -> Self {
        let name = format!("round_{rounding}")
            .replace(['(', ')'], "_")
            .trim_end_matches('_')
            .to_string();
        Self {
            rounding,
            name,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }

    fn places(&self) -> u8 {
        self.rounding.places().unwrap_or_default()
    }
}

impl ScalarUDFImpl for RoundUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let places = self.places();
        match &arg_types[0] {
            DataType::Decimal128(precision, scale) => {
                let integer_digits = (*precision as i16 - *scale as i16).max(1) as u8;
                Ok(DataType::Decimal128(
                    (integer_digits + places + 1).min(38),
                    places as i8,
                ))
            }
            t if t.is_integer() => Ok(DataType::Decimal128(20 + places, places as i8)),
            t => plan_err!("cannot round a value of type {t}: rounding applies to decimals and integers"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Decimal128(precision, places) = *args.return_type() else {
            return exec_err!("rounding must return a decimal");
        };
        let input = args.args[0].to_array(args.number_rows)?;
        let input = match input.data_type() {
            DataType::Decimal128(..) => input,
            _ => cast(&input, &DataType::Decimal128(38, 0))?,
        };
        let DataType::Decimal128(_, scale) = *input.data_type() else {
            unreachable!("cast above gives a decimal")
        };
        let rounding = self.rounding;
        let rounder = rounding.at_scale(scale);
        let values = input.as_primitive::<Decimal128Type>();
        // Every slot in one loop without a branch out of it: a value that does not fit is
        // noted and the column is done again value by value, where a NULL's slot, which
        // holds anything, cannot fail it.
        let overflowed = Cell::new(false);
        let rounded = values.unary::<_, Decimal128Type>(|v| {
            rounder.round(v).unwrap_or_else(|| {
                overflowed.set(true);
                0
            })
        });
        let rounded = match overflowed.get() {
            false => rounded,
            true => values.try_unary::<_, Decimal128Type, _>(|v| {
                rounder.round(v).ok_or_else(|| {
                    ArrowError::ComputeError(format!(
                        "rounding {v} (scale {scale}) with {rounding} overflows 38 digits"
                    ))
                })
            })?,
        };
        let rounded = rounded.with_precision_and_scale(precision, places)?;
        Ok(ColumnarValue::Array(Arc::new(rounded) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str, rounding: &str) -> String {
        let d: rust_decimal::Decimal = text.parse().unwrap();
        let rounding: Rounding = rounding.parse().unwrap();
        let unscaled = rounding.at_scale(d.scale() as i8).round(d.mantissa()).unwrap();
        let places = match rounding {
            Rounding::None => d.scale(),
            _ => rounding.places().unwrap() as u32,
        };
        rust_decimal::Decimal::from_i128_with_scale(unscaled, places).to_string()
    }

    /// Through DataFusion, a column is rounded whole; a value that does not fit fails it with
    /// its own figure, and what a NULL's slot holds fails nothing.
    #[tokio::test]
    async fn a_column_rounds_whole_and_only_a_value_that_overflows_fails_it() {
        use datafusion::arrow::array::{Decimal128Array, RecordBatch};
        use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
        use datafusion::prelude::{SessionContext, col};
        let round = |values: Vec<i128>, valid: Vec<bool>, scale: i8| async move {
            let column = Decimal128Array::new(ScalarBuffer::from(values), Some(NullBuffer::from(valid)))
                .with_precision_and_scale(38, scale)
                .unwrap();
            let batch = RecordBatch::try_from_iter([("v", Arc::new(column) as ArrayRef)]).unwrap();
            let rounding: Rounding = "half_up(0.01)".parse().unwrap();
            let df = SessionContext::new().read_batch(batch).unwrap();
            let batches = df.select(vec![rounding.apply(col("v"))])?.collect().await?;
            let rounded = batches[0].column(0).as_primitive::<Decimal128Type>().clone();
            Ok::<_, datafusion::error::DataFusionError>(rounded.iter().collect::<Vec<_>>())
        };
        let half = round(vec![18_308_454, 18_308_455, -18_308_455, 7], vec![true; 4], 3);
        assert_eq!(
            half.await.unwrap(),
            [Some(1_830_845), Some(1_830_846), Some(-1_830_846), Some(1)]
        );
        let under_null = round(vec![i128::MAX / 10, 12_345], vec![false, true], 0);
        assert_eq!(under_null.await.unwrap(), [None, Some(1_234_500)]);
        let err = round(vec![12_345, i128::MAX / 10], vec![true, true], 0)
            .await
            .unwrap_err();
        let expected = format!(
            "rounding {} (scale 0) with half_up(0.01) overflows 38 digits",
            i128::MAX / 10
        );
        assert!(err.to_string().contains(&expected), "{err}");
    }

    #[test]
    fn overflow_is_none_never_a_wrapped_or_panicking_number() {
        let half_up: Rounding = "half_up(0.01)".parse().unwrap();
        // Scaling up past i128: once a panic in debug and a wrapped value in release.
        assert_eq!(half_up.at_scale(0).round(i128::MAX / 10), None);
        // The half test at a 38-digit scale used to double a remainder past i128.
        let near_half = 10i128.pow(37) * 9;
        assert_eq!(half_up.at_scale(40).round(near_half), Some(1));
        assert_eq!(half_up.at_scale(4).round(12_345), Some(123));
    }

    #[test]
    fn half_up_goes_away_from_zero_at_the_half() {
        assert_eq!(round("18308.454", "half_up(0.01)"), "18308.45");
        assert_eq!(round("18308.455", "half_up(0.01)"), "18308.46");
        assert_eq!(round("-18308.455", "half_up(0.01)"), "-18308.46");
        assert_eq!(round("-18308.454", "half_up(0.01)"), "-18308.45");
        assert_eq!(round("281.5", "half_up(1)"), "282");
        assert_eq!(round("281.4999999", "half_up(1)"), "281");
        assert_eq!(round("2.5", "half_up(1)"), "3");
        assert_eq!(round("7", "half_up(0.01)"), "7.00");
    }

    #[test]
    fn ceil_and_floor_move_any_fraction() {
        assert_eq!(round("151.99875", "ceil(1)"), "152");
        assert_eq!(round("152.00001", "ceil(1)"), "153");
        assert_eq!(round("152.000", "ceil(1)"), "152");
        assert_eq!(round("-1.5", "ceil(1)"), "-1");
        assert_eq!(round("1.59", "floor(0.1)"), "1.5");
        assert_eq!(round("-1.51", "floor(0.1)"), "-1.6");
    }

    #[test]
    fn syntax_round_trips_and_rejects_non_powers_of_ten() {
        for s in ["none", "half_up(0.01)", "half_up(1)", "ceil(1)", "floor(0.001)"] {
            assert_eq!(s.parse::<Rounding>().unwrap().to_string(), s);
        }
        for bad in ["half_up(0.05)", "half_up", "round(1)", "ceil(10)", "half_up(0.0000001)"] {
            assert!(bad.parse::<Rounding>().is_err(), "{bad} should be rejected");
        }
    }
}
