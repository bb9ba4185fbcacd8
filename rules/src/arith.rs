//! Decimal `+`, `-` and `*` checked for overflow once per column instead of once per value.
//!
//! Arrow checks every decimal sum and product against its 128 bits: a call and a branch per
//! value that no compiler can vectorise, a sixth of the calculator's time (`perf` of
//! `bench calc`). Pay is nowhere near 128 bits. A column is computed with plain arithmetic and
//! kept when the largest magnitudes of the batch's two operands show that no value of it can
//! have overflowed, so it holds the values Arrow's would; otherwise Arrow's checked kernel
//! computes it again, as before, with its error.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::kernels::numeric;
use datafusion::arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DECIMAL128_MAX_SCALE, DataType, Decimal128Type, FieldRef, Schema,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::BinaryExpr;
use datafusion::physical_expr_common::datum::apply;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Add,
    Sub,
    Mul,
}

/// A decimal `+`, `-` or `*` as DataFusion planned it, computed without a check per value when
/// the batch's magnitudes allow.
#[derive(Debug)]
pub(crate) struct Arithmetic {
    /// DataFusion's expression: its operands, its type and how it prints are this one's.
    planned: Arc<dyn PhysicalExpr>,
    op: Op,
}

crate::session::stands_in!(for Arithmetic);

impl Arithmetic {
    pub(crate) fn rewrite(expr: Arc<dyn PhysicalExpr>, schema: &Schema) -> Result<Transformed<Arc<dyn PhysicalExpr>>> {
        let Some(binary) = expr.downcast_ref::<BinaryExpr>() else {
            return Ok(Transformed::no(expr));
        };
        let op = match binary.op() {
            Operator::Plus => Op::Add,
            Operator::Minus => Op::Sub,
            Operator::Multiply => Op::Mul,
            _ => return Ok(Transformed::no(expr)),
        };
        let decimal = |e: &Arc<dyn PhysicalExpr>| matches!(e.data_type(schema), Ok(DataType::Decimal128(..)));
        if !(decimal(&expr) && decimal(binary.left()) && decimal(binary.right())) {
            return Ok(Transformed::no(expr));
        }
        Ok(Transformed::yes(Arc::new(Arithmetic { planned: expr, op })))
    }

    /// The column computed without a check per value, or `None` where a value could overflow
    /// (or the operands are not what the fast path handles: a NULL or two scalars).
    fn unchecked(&self, lhs: &ColumnarValue, rhs: &ColumnarValue) -> Option<ArrayRef> {
        let (l, r) = (Operand::of(lhs)?, Operand::of(rhs)?);
        let ((p1, s1), (p2, s2)) = (l.precision_and_scale(), r.precision_and_scale());
        // A negative scale is Arrow's to handle: its arithmetic of types is in 8 bits.
        if s1 < 0 || s2 < 0 {
            return None;
        }
        // Arrow's result types (`arrow_arith::numeric`): Hive's rules for decimals. Each column
        // is computed first, with the operands' magnitudes in the same pass (read once, not
        // twice: the loop waits on memory), and kept only if no value can have overflowed.
        let array = match self.op {
            Op::Mul => {
                let scale = s1.checked_add(s2).filter(|s| *s <= DECIMAL128_MAX_SCALE)?;
                let precision = p1.saturating_add(p2 + 1).min(DECIMAL128_MAX_PRECISION);
                let (product, bound_l, bound_r) = compute(l, r, i128::wrapping_mul)?;
                fits(bound_l.checked_mul(bound_r)?)?;
                product.with_precision_and_scale(precision, scale).ok()?
            }
            Op::Add | Op::Sub => {
                let scale = s1.max(s2);
                let digits = (p1 as i8 - s1).max(p2 as i8 - s2);
                let precision = (scale.saturating_add(digits) as u8)
                    .saturating_add(1)
                    .min(DECIMAL128_MAX_PRECISION);
                let factor = |s: i8| 10i128.checked_pow(u32::try_from(scale - s).ok()?);
                let (l_mul, r_mul) = (factor(s1)?, factor(s2)?);
                let (sum, bound_l, bound_r) = match (self.op, l_mul, r_mul) {
                    (Op::Add, 1, 1) => compute(l, r, i128::wrapping_add),
                    (Op::Sub, 1, 1) => compute(l, r, i128::wrapping_sub),
                    (Op::Add, ..) => compute(l, r, |a, b| a.wrapping_mul(l_mul).wrapping_add(b.wrapping_mul(r_mul))),
                    _ => compute(l, r, |a, b| a.wrapping_mul(l_mul).wrapping_sub(b.wrapping_mul(r_mul))),
                }?;
                let scaled = |bound: u128, factor: i128| bound.checked_mul(factor as u128);
                fits(scaled(bound_l, l_mul)?.checked_add(scaled(bound_r, r_mul)?)?)?;
                sum.with_precision_and_scale(precision, scale).ok()?
            }
        };
        Some(Arc::new(array))
    }
}

/// `Some` when a magnitude of at most `bound` fits an `i128`.
fn fits(bound: u128) -> Option<()> {
    (bound <= i128::MAX as u128).then_some(())
}

/// An operand as the fast path takes it: a column, or a value that is not NULL.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Column(&'a PrimitiveArray<Decimal128Type>),
    Value(i128, u8, i8),
}

impl<'a> Operand<'a> {
    fn of(value: &'a ColumnarValue) -> Option<Operand<'a>> {
        match value {
            ColumnarValue::Array(array) => array.as_primitive_opt::<Decimal128Type>().map(Operand::Column),
            ColumnarValue::Scalar(ScalarValue::Decimal128(Some(v), p, s)) => Some(Operand::Value(*v, *p, *s)),
            ColumnarValue::Scalar(_) => None,
        }
    }

    fn precision_and_scale(self) -> (u8, i8) {
        match self {
            Operand::Column(array) => match array.data_type() {
                DataType::Decimal128(p, s) => (*p, *s),
                // `as_primitive_opt::<Decimal128Type>` took only a Decimal128.
                _ => unreachable!("a Decimal128 array"),
            },
            Operand::Value(_, p, s) => (p, s),
        }
    }
}

/// A column's values folded into one word with OR, a value at a time: `v ^ (v >> 127)` is `v`
/// for v ≥ 0 and `-v - 1` for v < 0, each at most the OR of them all, so each magnitude is at
/// most one more than the word. A maximum of 128-bit values would be a compare and a branch.
fn fold(word: &mut u128, v: i128) {
    *word |= (v ^ (v >> 127)) as u128;
}

/// `f` of each pair of values with plain (wrapping) arithmetic, a row NULL where either operand
/// is; and bounds of the operands' magnitudes, NULL slots' values included (they are computed
/// too). Whether `f` overflowed anywhere is for the caller to judge by the bounds.
fn compute(
    l: Operand,
    r: Operand,
    f: impl Fn(i128, i128) -> i128,
) -> Option<(PrimitiveArray<Decimal128Type>, u128, u128)> {
    let (mut word_l, mut word_r) = (0u128, 0u128);
    let (values, nulls, bound_l, bound_r): (Vec<i128>, _, _, _) = match (l, r) {
        (Operand::Column(a), Operand::Column(b)) => {
            if a.len() != b.len() {
                return None;
            }
            let values = a
                .values()
                .iter()
                .zip(b.values().iter())
                .map(|(&x, &y)| {
                    fold(&mut word_l, x);
                    fold(&mut word_r, y);
                    f(x, y)
                })
                .collect();
            (values, NullBuffer::union(a.nulls(), b.nulls()), word_l + 1, word_r + 1)
        }
        (Operand::Column(a), Operand::Value(v, ..)) => {
            let values = a
                .values()
                .iter()
                .map(|&x| {
                    fold(&mut word_l, x);
                    f(x, v)
                })
                .collect();
            (values, a.nulls().cloned(), word_l + 1, v.unsigned_abs())
        }
        (Operand::Value(v, ..), Operand::Column(b)) => {
            let values = b
                .values()
                .iter()
                .map(|&y| {
                    fold(&mut word_r, y);
                    f(v, y)
                })
                .collect();
            (values, b.nulls().cloned(), v.unsigned_abs(), word_r + 1)
        }
        (Operand::Value(..), Operand::Value(..)) => return None,
    };
    Some((PrimitiveArray::new(values.into(), nulls), bound_l, bound_r))
}

impl PhysicalExpr for Arithmetic {
    crate::session::stands_in!();

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let [left, right] = self.planned.children()[..] else {
            unreachable!("a binary expression has two operands")
        };
        let (lhs, rhs) = (left.evaluate(batch)?, right.evaluate(batch)?);
        if let Some(array) = self.unchecked(&lhs, &rhs) {
            return Ok(ColumnarValue::Array(array));
        }
        // What DataFusion's `BinaryExpr` calls for decimals.
        apply(
            &lhs,
            &rhs,
            match self.op {
                Op::Add => numeric::add,
                Op::Sub => numeric::sub,
                Op::Mul => numeric::mul,
            },
        )
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn PhysicalExpr>>) -> Result<Arc<dyn PhysicalExpr>> {
        Ok(Arc::new(Arithmetic {
            planned: Arc::clone(&self.planned).with_new_children(children)?,
            op: self.op,
        }))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{BooleanArray, Decimal128Array};

    use super::*;

    fn column(values: &[Option<i128>], precision: u8, scale: i8) -> ColumnarValue {
        let array = Decimal128Array::from(values.to_vec())
            .with_precision_and_scale(precision, scale)
            .unwrap();
        ColumnarValue::Array(Arc::new(array))
    }

    fn value(v: i128, precision: u8, scale: i8) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Decimal128(Some(v), precision, scale))
    }

    fn arrow(op: Op, lhs: &ColumnarValue, rhs: &ColumnarValue) -> Result<ArrayRef> {
        let kernel = match op {
            Op::Add => numeric::add,
            Op::Sub => numeric::sub,
            Op::Mul => numeric::mul,
        };
        apply(lhs, rhs, kernel)?.into_array(1)
    }

    fn arithmetic(op: Op) -> Arithmetic {
        // Only `op` is read by `unchecked`; the planned expression is any binary one.
        let planned: Arc<dyn PhysicalExpr> = Arc::new(BinaryExpr::new(
            Arc::new(datafusion::physical_expr::expressions::Column::new("a", 0)),
            Operator::Plus,
            Arc::new(datafusion::physical_expr::expressions::Column::new("b", 1)),
        ));
        Arithmetic { planned, op }
    }

    /// Pseudo-random values of every size from one digit to 38, both signs: a fixed sequence,
    /// so a failure is repeatable.
    fn values(seed: u64, n: usize, digits: u32) -> Vec<Option<i128>> {
        let mut state = seed;
        (0..n)
            .map(|i| {
                let mut next = || {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    u128::from(state)
                };
                let bits = (next() << 64) | next();
                let v = (bits % 10u128.pow(digits.clamp(1, 38))) as i128;
                match (i % 7, bits & 1) {
                    (3, _) => None,
                    (_, 0) => Some(v),
                    _ => Some(-v),
                }
            })
            .collect()
    }

    /// Pairs of types and sizes of values, column with column and with a value on either side:
    /// where the fast path applies, its type and values are Arrow's checked kernel's (which
    /// answers where it does not).
    #[test]
    fn gives_what_arrows_checked_kernels_give() {
        let mut fast = 0;
        for op in [Op::Add, Op::Sub, Op::Mul] {
            for (p1, s1, p2, s2) in [
                (14, 2, 14, 2),
                (14, 2, 20, 0),
                (7, 1, 3, 2),
                (38, 10, 38, 10),
                (38, 0, 5, 4),
                (20, -2, 10, 3),
                (36, 2, 3, 2),
            ] {
                for digits in [1, 5, 12, 19, 25, 38] {
                    let a = values(u64::from(p1) * 31 + u64::from(digits), 64, digits.min(u32::from(p1)));
                    let b = values(u64::from(p2) + 7, 64, digits.min(u32::from(p2)));
                    let cases = [
                        (column(&a, p1, s1), column(&b, p2, s2)),
                        (column(&a, p1, s1), value(b[1].unwrap(), p2, s2)),
                        (value(a[0].unwrap_or(5), p1, s1), column(&b, p2, s2)),
                    ];
                    for (lhs, rhs) in cases {
                        let expected = arrow(op, &lhs, &rhs);
                        if let Some(got) = arithmetic(op).unchecked(&lhs, &rhs) {
                            fast += 1;
                            let expected = expected.expect("the fast path never hides an overflow");
                            assert_eq!(got.data_type(), expected.data_type(), "{op:?} p{p1},{s1} p{p2},{s2}");
                            assert_eq!(&got, &expected, "{op:?} p{p1},{s1} p{p2},{s2} digits {digits}");
                        }
                    }
                }
            }
        }
        assert!(fast > 100, "the fast path took only {fast} cases");
    }

    #[test]
    fn leaves_a_column_that_could_overflow_to_arrows_kernel() {
        let big = column(&[Some(i128::MAX / 3), Some(1)], 38, 0);
        let three = value(3, 1, 0);
        assert!(arithmetic(Op::Mul).unchecked(&big, &three).is_none());
        assert!(
            arrow(Op::Mul, &big, &three).is_ok(),
            "within 128 bits: Arrow computes it"
        );
        let four = value(4, 1, 0);
        assert!(arithmetic(Op::Mul).unchecked(&big, &four).is_none());
        assert!(
            arrow(Op::Mul, &big, &four).is_err(),
            "past 128 bits: Arrow's error stands"
        );
        // A NULL slot's value counts: it is computed too.
        let under_null = Decimal128Array::from(vec![Some(i128::MAX), Some(1)])
            .with_precision_and_scale(38, 0)
            .unwrap();
        let nulled = datafusion::arrow::compute::nullif(&under_null, &BooleanArray::from(vec![true, false])).unwrap();
        let nulled = ColumnarValue::Array(nulled);
        assert!(arithmetic(Op::Add).unchecked(&nulled, &value(1, 1, 0)).is_none());
        // A NULL operand is Arrow's to answer.
        let null = ColumnarValue::Scalar(ScalarValue::Decimal128(None, 10, 2));
        assert!(
            arithmetic(Op::Add)
                .unchecked(&column(&[Some(1)], 10, 2), &null)
                .is_none()
        );
    }
}
