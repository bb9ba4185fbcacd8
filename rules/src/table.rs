//! Lookup tables: keyed and by range (slabs), inline or from CSV. A table is called in formulas
//! as a function of its match columns and then its range value, e.g. `pt_slabs(state, gender,
//! month, gross)`: the first row whose cells match and whose bound holds gives the value.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Decimal128Builder, StringArray};
use datafusion::arrow::compute::{CastOptions, cast, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, DecimalType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};
use foldhash::fast::RandomState;
use rust_decimal::Decimal;

use crate::file::{TableDef, cell_text, line_of};

/// The bound a row puts on the range argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bound {
    Any,
    UpTo(Decimal),
    Below(Decimal),
}

impl Bound {
    /// The bound on range values of scale `scale`, as their unscaled integers: a value `v`
    /// holds when `v <= limit`.
    ///
    /// A value of scale `scale` is a whole number of `10^-scale` steps, so `v <= b` is
    /// `v <= floor(b)` and `v < b` is `v <= ceil(b) - 1`, with `b` counted in those steps. A
    /// limit past an `i128` is past every 38-digit decimal: it saturates.
    fn limit(&self, scale: u32) -> Limit {
        let steps = |bound: &Decimal, round_up: bool| {
            let (mantissa, own) = (bound.mantissa(), bound.scale());
            match scale.checked_sub(own) {
                Some(up) => 10i128
                    .checked_pow(up)
                    .and_then(|factor| factor.checked_mul(mantissa))
                    .unwrap_or(if mantissa > 0 { i128::MAX } else { i128::MIN }),
                // `own` is at most 28, so the factor fits.
                None => {
                    let factor = 10i128.pow(own - scale);
                    let floor = mantissa.div_euclid(factor);
                    floor + i128::from(round_up && mantissa.rem_euclid(factor) != 0)
                }
            }
        };
        match self {
            Bound::Any => Limit::Unbounded,
            Bound::UpTo(b) => Limit::AtMost(steps(b, false)),
            Bound::Below(b) => Limit::AtMost(steps(b, true).saturating_sub(1)),
        }
    }
}

/// A row's [`Bound`] at the scale of the range values it is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Limit {
    /// Every value holds, and so does a worker without one: a row without `upto` or `below`.
    Unbounded,
    /// A value holds up to and including this many steps.
    AtMost(i128),
}

impl Limit {
    fn holds(self, range: Option<i128>) -> bool {
        match (self, range) {
            (Limit::Unbounded, _) => true,
            (Limit::AtMost(limit), Some(v)) => v <= limit,
            (Limit::AtMost(_), None) => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Row {
    /// `None` matches any value.
    cells: Vec<Option<String>>,
    bound: Bound,
    value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Table {
    pub name: String,
    pub description: String,
    match_columns: Vec<String>,
    range: Option<String>,
    rows: Vec<Row>,
    scale: u32,
}

/// A fault in a table, at a line of the ruleset or, for a row read from CSV, of that file.
pub struct TableFault {
    pub file: Option<std::path::PathBuf>,
    pub line: usize,
    pub message: String,
}

impl Table {
    /// Builds a table from its definition. `text` is the ruleset source (for line numbers) and
    /// `dir` the folder CSV files are relative to.
    pub fn build(
        name: &str,
        def: &TableDef,
        def_offset: usize,
        text: &str,
        dir: &Path,
    ) -> Result<(Table, Option<Vec<u8>>), TableFault> {
        let def_line = line_of(text, def_offset);
        let fault = |line, message: String| TableFault {
            file: None,
            line,
            message,
        };
        let (raw_rows, csv_bytes, rows_file) = match (&def.rows, &def.file) {
            (Some(rows), None) => {
                let rows = rows
                    .iter()
                    .map(|row| {
                        let line = line_of(text, row.span().start);
                        let cells = row
                            .get_ref()
                            .iter()
                            .map(|(k, v)| {
                                cell_text(v)
                                    .map(|v| (k.clone(), v))
                                    .map_err(|m| fault(line, format!("table `{name}`, column `{k}`: {m}")))
                            })
                            .collect::<Result<BTreeMap<_, _>, _>>()?;
                        Ok((line, cells))
                    })
                    .collect::<Result<Vec<_>, TableFault>>()?;
                (rows, None, None)
            }
            (None, Some(file)) => {
                let line = line_of(text, file.span().start);
                let path = table_path(dir, file.get_ref()).map_err(|m| fault(line, m))?;
                let bytes = read_limited(&path).map_err(|m| fault(line, m))?;
                (
                    read_csv(&bytes, &path).map_err(|m| fault(line, m))?,
                    Some(bytes),
                    Some(path),
                )
            }
            _ => {
                return Err(fault(
                    def_line,
                    format!("table `{name}` needs exactly one of `rows` or `file`"),
                ));
            }
        };
        let row_fault = |line, message: String| TableFault {
            file: rows_file.clone(),
            line,
            message,
        };
        let mut rows = Vec::with_capacity(raw_rows.len());
        for (line, mut cells) in raw_rows {
            let value = cells
                .remove("value")
                .ok_or_else(|| row_fault(line, format!("table `{name}`: row has no `value`")))?;
            let value = parse_amount(&value).map_err(|m| row_fault(line, format!("table `{name}`: value {m}")))?;
            let bound = match (cells.remove("upto"), cells.remove("below"), &def.range) {
                (None, None, _) => Bound::Any,
                (Some(_), Some(_), _) => {
                    return Err(row_fault(
                        line,
                        format!("table `{name}`: a row takes `upto` or `below`, not both"),
                    ));
                }
                (_, _, None) => {
                    return Err(row_fault(
                        line,
                        format!("table `{name}`: `upto`/`below` need `range = \"...\"` on the table"),
                    ));
                }
                (Some(b), None, Some(_)) if b.is_empty() || b == "*" => Bound::Any,
                (None, Some(b), Some(_)) if b.is_empty() || b == "*" => Bound::Any,
                (Some(b), None, Some(_)) => {
                    Bound::UpTo(parse_amount(&b).map_err(|m| row_fault(line, format!("table `{name}`: upto {m}")))?)
                }
                (None, Some(b), Some(_)) => {
                    Bound::Below(parse_amount(&b).map_err(|m| row_fault(line, format!("table `{name}`: below {m}")))?)
                }
            };
            let row_cells = def
                .match_columns
                .iter()
                .map(|c| cells.remove(c).filter(|v| !v.is_empty() && v != "*"))
                .collect();
            if let Some(unknown) = cells.keys().next() {
                let mut known: Vec<&str> = def.match_columns.iter().map(String::as_str).collect();
                known.extend(["value", "upto", "below"]);
                return Err(row_fault(
                    line,
                    format!(
                        "table `{name}`: unknown column `{unknown}`; columns are {}",
                        known.join(", ")
                    ),
                ));
            }
            rows.push(Row {
                cells: row_cells,
                bound,
                value,
            });
        }
        if rows.is_empty() {
            return Err(fault(def_line, format!("table `{name}` has no rows")));
        }
        let scale = rows.iter().map(|r| r.value.scale()).max().unwrap_or(0);
        Ok((
            Table {
                name: name.to_string(),
                description: def.description.clone(),
                match_columns: def.match_columns.clone(),
                range: def.range.clone(),
                rows,
                scale,
            },
            csv_bytes,
        ))
    }

    /// The formula function that looks this table up.
    pub fn udf(self: &Arc<Self>) -> ScalarUDF {
        ScalarUDF::from(TableFn {
            signature: Signature::any(self.arity(), Volatility::Immutable),
            table: Arc::clone(self),
        })
    }

    fn arity(&self) -> usize {
        self.match_columns.len() + usize::from(self.range.is_some())
    }

    /// How to call it, for messages: `pt_slabs(state, gender, month, gross)`.
    pub fn signature_text(&self) -> String {
        let mut args = self.match_columns.clone();
        args.extend(self.range.clone());
        format!("{}({})", self.name, args.join(", "))
    }

    /// Why a call with these arguments (as the formula passed them, one array per argument)
    /// has no value at `row`: `no row of table `min_wage` for skill=`x`, state=`y``; `None` if
    /// a row matches.
    pub(crate) fn miss_reason(&self, args: &[ArrayRef], row: usize) -> Result<Option<String>> {
        if args.len() != self.arity() {
            return exec_err!("{} takes {} arguments", self.signature_text(), self.arity());
        }
        let (key_args, range_arg) = args.split_at(self.match_columns.len());
        let keys = key_args
            .iter()
            .map(|a| Keys::new(&ColumnarValue::Array(Arc::clone(a))))
            .collect::<Result<Vec<_>>>()?;
        let ranges = range_arg
            .first()
            .map(|a| Ranges::new(&ColumnarValue::Array(Arc::clone(a))))
            .transpose()?;
        let row_keys: Vec<Option<&str>> = keys.iter().map(|k| k.get(row)).collect();
        let range = ranges.as_ref().and_then(|r| r.get(row));
        let scale = ranges.as_ref().map_or(0, |r| r.scale);
        if self.lookup(&row_keys, range, scale).is_some() {
            return Ok(None);
        }
        let quoted = |v: Option<String>| v.map_or_else(|| "NULL".to_string(), |v| format!("`{v}`"));
        let mut given: Vec<String> = self
            .match_columns
            .iter()
            .zip(&row_keys)
            .map(|(c, k)| format!("{c}={}", quoted(k.map(str::to_string))))
            .collect();
        if let Some(r) = &self.range {
            given.push(format!(
                "{r}={}",
                quoted(range.map(|v| Decimal128Type::format_decimal(v, 38, scale as i8)))
            ));
        }
        Ok(Some(format!(
            "no row of table `{}` for {}",
            self.name,
            given.join(", ")
        )))
    }

    /// The value for one worker's keys and range (unscaled, at `scale`).
    fn lookup(&self, keys: &[Option<&str>], range: Option<i128>, scale: u32) -> Option<Decimal> {
        let mut rows = self.every_row();
        for (column, key) in keys.iter().enumerate() {
            rows.keep(&self.rows_letting(column, *key));
        }
        first_holding(&rows, &self.limits(scale), range).map(|i| self.rows[i].value)
    }

    /// Each row's value unscaled at the table's scale (`None`: it does not fit 38 digits).
    fn unscaled_values(&self) -> Vec<Option<i128>> {
        self.rows.iter().map(|r| rescale(r.value, self.scale)).collect()
    }

    /// Each row's bound on range values of scale `scale`.
    fn limits(&self, scale: u32) -> Vec<Limit> {
        self.rows.iter().map(|r| r.bound.limit(scale)).collect()
    }

    fn every_row(&self) -> RowSet {
        RowSet::of(self.rows.len(), |_| true)
    }

    /// The rows whose cell in key column `column` lets `key` through (a wildcard lets any).
    fn rows_letting(&self, column: usize, key: Option<&str>) -> RowSet {
        RowSet::of(self.rows.len(), |i| {
            self.rows[i].cells[column].as_deref().is_none_or(|c| Some(c) == key)
        })
    }
}

/// The first of `rows`, in the table's order, whose limit holds for `range`.
fn first_holding(rows: &RowSet, limits: &[Limit], range: Option<i128>) -> Option<usize> {
    rows.iter().find(|&i| limits[i].holds(range))
}

/// Some of a table's rows, a bit each, in the table's order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RowSet(Vec<u64>);

impl RowSet {
    fn of(rows: usize, member: impl Fn(usize) -> bool) -> RowSet {
        let mut words = vec![0u64; rows.div_ceil(64)];
        for i in (0..rows).filter(|&i| member(i)) {
            words[i / 64] |= 1 << (i % 64);
        }
        RowSet(words)
    }

    fn contains(&self, row: usize) -> bool {
        self.0[row / 64] & (1 << (row % 64)) != 0
    }

    /// Keeps only the rows also in `other`.
    fn keep(&mut self, other: &RowSet) {
        for (word, other) in self.0.iter_mut().zip(&other.0) {
            *word &= other;
        }
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            let mut rest = word;
            std::iter::from_fn(move || {
                (rest != 0).then(|| {
                    let bit = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    w * 64 + bit
                })
            })
        })
    }
}

/// A table file is read from beside the ruleset: a ruleset names files of its own, not any
/// file the process can read (`/etc/passwd`, `../secrets.csv`, `/dev/zero`).
fn table_path(dir: &Path, file: &str) -> Result<std::path::PathBuf, String> {
    let relative = Path::new(file);
    let inside = relative
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
    if !inside || file.is_empty() {
        return Err(format!(
            "`{file}`: expected a file beside the ruleset or in a folder under it (a relative path without ..)"
        ));
    }
    Ok(dir.join(relative))
}

/// Tables are small: a slab or rate table is kilobytes. More than this is not one.
const MAX_TABLE_BYTES: u64 = 16 << 20;

fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(cannot)?;
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TABLE_BYTES + 1).read_to_end(&mut bytes).map_err(cannot)?;
    if bytes.len() as u64 > MAX_TABLE_BYTES {
        return Err(format!(
            "{}: more than {} MB; a table file holds a table's rows",
            path.display(),
            MAX_TABLE_BYTES >> 20
        ));
    }
    Ok(bytes)
}

fn parse_amount(text: &str) -> Result<Decimal, String> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        return Err(format!("`{text}` is in float notation; write a plain decimal"));
    }
    text.parse().map_err(|_| format!("`{text}` is not a decimal number"))
}

/// A CSV table's rows: line number and cells by column.
type CsvRows = Vec<(usize, BTreeMap<String, String>)>;

fn read_csv(bytes: &[u8], path: &Path) -> Result<CsvRows, String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    reader
        .records()
        .map(|record| {
            let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
            let line = record
                .position()
                .map_or(0, |p| line_of_record(bytes, p.byte() as usize));
            let cells = headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.trim().to_string(), v.trim().to_string()))
                .collect();
            Ok((line, cells))
        })
        .collect()
}

/// The line a record starts on. The CSV reader puts a record's start at the line break that
/// ends the record before it, so the breaks at `start` belong to the record's own line count.
fn line_of_record(bytes: &[u8], start: usize) -> usize {
    let before = bytes[..start].iter().filter(|&&b| b == b'\n').count();
    let leading = bytes[start..]
        .iter()
        .take_while(|b| b.is_ascii_whitespace())
        .filter(|&&b| b == b'\n')
        .count();
    before + leading + 1
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct TableFn {
    table: Arc<Table>,
    signature: Signature,
}

impl TableFn {
    /// Whether every value of the table fits the type the function gives,
    /// `Decimal128(18, scale)`: a lookup then never fails, whatever row it finds.
    pub(crate) fn values_fit(&self) -> bool {
        let most = 10i128.pow(18);
        self.table
            .unscaled_values()
            .into_iter()
            .all(|v| v.is_some_and(|v| v.abs() < most))
    }
}

impl ScalarUDFImpl for TableFn {
    fn name(&self) -> &str {
        &self.table.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    #[allow(clippy::expect_used, reason = "arity includes the range")]
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if let Some(range) = &self.table.range {
            let t = arg_types.last().expect("arity includes the range");
            if !(t.is_integer() || matches!(t, DataType::Decimal128(..))) {
                return plan_err!(
                    "{}: the range argument `{range}` must be a decimal or an integer, not {t}",
                    self.table.signature_text()
                );
            }
        }
        Ok(DataType::Decimal128(18, self.table.scale as i8))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let table = &self.table;
        let n = args.number_rows;
        let (key_args, range_arg) = args.args.split_at(table.match_columns.len());
        let ranges = range_arg.first().map(Ranges::new).transpose()?;
        // The rows a constant key lets through are the same for every worker; a key per row
        // lets through the rows of its value, worked out once for each value the batch holds.
        let mut constant = table.every_row();
        let mut per_row = Vec::new();
        for (column, arg) in key_args.iter().enumerate() {
            match arg {
                ColumnarValue::Scalar(key) => constant.keep(&table.rows_letting(column, scalar_text(key)?.as_deref())),
                ColumnarValue::Array(array) => per_row.push(KeyColumn::new(table, column, array)?),
            }
        }
        let values = table.unscaled_values();
        let limits = table.limits(ranges.as_ref().map_or(0, |r| r.scale));
        // Each combination of keys the batch holds, with the rows it lets through in the
        // table's order: a worker only checks its range against those.
        let keys = per_row.into_iter().reduce(|a, b| a.and(&b));
        let lettings = keys
            .as_ref()
            .map_or(std::slice::from_ref(&constant), |k| &k.letting[..]);
        let candidates: Vec<Vec<usize>> = lettings
            .iter()
            .map(|rows| rows.iter().filter(|&r| constant.contains(r)).collect())
            .collect();
        let mut out = Decimal128Builder::with_capacity(n);
        for i in 0..n {
            let slot = keys.as_ref().map_or(0, |k| k.slots[i] as usize);
            let range = ranges.as_ref().and_then(|r| r.get(i));
            match candidates[slot].iter().copied().find(|&row| limits[row].holds(range)) {
                Some(row) => {
                    let Some(value) = values[row] else {
                        return exec_err!(
                            "{}: the value {} does not fit 38 digits at the table's scale {}",
                            table.signature_text(),
                            table.rows[row].value,
                            table.scale
                        );
                    };
                    out.append_value(value)
                }
                // No row for this worker: no value, so the calculator records a worker error
                // (with `miss_reason`) and computes every other worker.
                None => out.append_null(),
            }
        }
        let values = out.finish().with_precision_and_scale(18, table.scale as i8)?;
        Ok(ColumnarValue::Array(Arc::new(values) as ArrayRef))
    }
}

/// A key argument given per worker, as the function meets it in a batch: each row's value as a
/// slot among the batch's distinct values, and the table rows each slot lets through. A key's
/// values repeat (a state, a skill, the month), so the rows are worked out once per value, and
/// a row's value is found by comparing numbers: text is packed into one (see [`Text`]),
/// and a number key is not written out as text for every worker. Two keys are combined the
/// same way ([`KeyColumn::and`]), so a worker's keys end as one slot.
struct KeyColumn {
    slots: Vec<u32>,
    letting: Vec<RowSet>,
}

impl KeyColumn {
    fn new(table: &Table, column: usize, array: &ArrayRef) -> Result<KeyColumn> {
        let integer = |t: &DataType| {
            use DataType::*;
            matches!(t, Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32)
        };
        if integer(array.data_type()) {
            // A number matches the cell that reads as it does: month 2 the cell `2`.
            let numbers = cast(array, &DataType::Int64)?;
            let numbers = numbers.as_primitive::<Int64Type>();
            let key = |i: usize| numbers.is_valid(i).then(|| numbers.value(i));
            return Ok(KeyColumn::of(array.len(), key, |i| {
                table.rows_letting(column, key(i).map(|v| v.to_string()).as_deref())
            }));
        }
        let texts = cast(array, &DataType::Utf8)?;
        let texts = texts.as_string::<i32>();
        let text = |i: usize| texts.is_valid(i).then(|| texts.value(i));
        Ok(KeyColumn::of(
            array.len(),
            |i| text(i).map(Text::of),
            |i| table.rows_letting(column, text(i)),
        ))
    }

    /// Slots each of `n` rows by `key`; `letting(i)` gives the table rows for the value of row
    /// `i`, the first row holding it.
    fn of<K: Copy + Eq + std::hash::Hash>(
        n: usize,
        key: impl Fn(usize) -> K,
        letting: impl Fn(usize) -> RowSet,
    ) -> KeyColumn {
        /// Searched in order before the map: a handful of values costs less to compare than to
        /// hash, and a key of many values (sites, say) goes on in the map.
        const FEW: usize = 8;
        let mut few: Vec<(K, u32)> = Vec::with_capacity(FEW);
        let mut many: HashMap<K, u32, RandomState> = HashMap::default();
        let mut column = KeyColumn {
            slots: Vec::with_capacity(n),
            letting: Vec::new(),
        };
        let mut last = None;
        for i in 0..n {
            let k = key(i);
            let slot = match last {
                // Workers of one site, state or skill often come together.
                Some((previous, slot)) if previous == k => slot,
                _ => match few.iter().find(|(v, _)| *v == k) {
                    Some(&(_, slot)) => slot,
                    None => match many.get(&k) {
                        Some(&slot) => slot,
                        None => {
                            let slot = column.letting.len() as u32;
                            column.letting.push(letting(i));
                            match few.len() < FEW {
                                true => few.push((k, slot)),
                                false => _ = many.insert(k, slot),
                            }
                            slot
                        }
                    },
                },
            };
            last = Some((k, slot));
            column.slots.push(slot);
        }
        column
    }

    fn letting(&self, row: usize) -> &RowSet {
        &self.letting[self.slots[row] as usize]
    }

    /// Both keys as one: a slot for each pair of values met, letting through the rows both let.
    fn and(&self, other: &KeyColumn) -> KeyColumn {
        KeyColumn::of(
            self.slots.len(),
            |i| (self.slots[i], other.slots[i]),
            |i| {
                let mut rows = self.letting(i).clone();
                rows.keep(other.letting(i));
                rows
            },
        )
    }
}

/// A key's text packed into one number, its bytes and its length, when it is shorter than 16
/// bytes (every state, gender and skill is): two are compared in one instruction rather than
/// a call to `memcmp`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Text<'a> {
    Short(u128),
    Long(&'a str),
}

impl<'a> Text<'a> {
    fn of(text: &'a str) -> Text<'a> {
        if text.len() >= 16 {
            return Text::Long(text);
        }
        let packed = text
            .bytes()
            .enumerate()
            .fold((text.len() as u128) << 120, |packed, (i, b)| {
                packed | u128::from(b) << (8 * i)
            });
        Text::Short(packed)
    }
}

/// A key argument as text, for explaining a miss: a constant (`'employee'`) stays one value
/// rather than a column of copies.
enum Keys {
    Same(Option<String>),
    PerRow(StringArray),
}

impl Keys {
    fn new(arg: &ColumnarValue) -> Result<Keys> {
        Ok(match arg {
            ColumnarValue::Scalar(s) => Keys::Same(scalar_text(s)?),
            ColumnarValue::Array(a) => Keys::PerRow(cast(a, &DataType::Utf8)?.as_string::<i32>().clone()),
        })
    }

    fn get(&self, row: usize) -> Option<&str> {
        match self {
            Keys::Same(v) => v.as_deref(),
            Keys::PerRow(a) => a.is_valid(row).then(|| a.value(row)),
        }
    }
}

fn scalar_text(key: &ScalarValue) -> Result<Option<String>> {
    match key.cast_to(&DataType::Utf8)? {
        ScalarValue::Utf8(v) => Ok(v),
        other => exec_err!("a table key cast to text gave {other:?}"),
    }
}

/// The range argument as unscaled decimals at one scale (0 for an integer argument).
struct Ranges {
    scale: u32,
    values: Decimal128Array,
    /// A constant: one value for every row.
    same: bool,
}

impl Ranges {
    fn new(arg: &ColumnarValue) -> Result<Ranges> {
        let array = match arg {
            ColumnarValue::Scalar(s) => s.to_array()?,
            ColumnarValue::Array(a) => Arc::clone(a),
        };
        let array = match array.data_type() {
            DataType::Decimal128(_, scale) if *scale >= 0 => array,
            // A value does not change, nor silently become NULL: an error if it does not fit.
            t if t.is_integer() || matches!(t, DataType::Decimal128(..)) => {
                let exact = CastOptions {
                    safe: false,
                    ..CastOptions::default()
                };
                cast_with_options(&array, &DataType::Decimal128(38, 0), &exact)?
            }
            t => return exec_err!("a table's range argument must be a number, not {t}"),
        };
        let DataType::Decimal128(_, scale) = *array.data_type() else {
            unreachable!("a decimal, as matched above")
        };
        Ok(Ranges {
            scale: scale as u32,
            values: array.as_primitive::<Decimal128Type>().clone(),
            same: matches!(arg, ColumnarValue::Scalar(_)),
        })
    }

    fn get(&self, row: usize) -> Option<i128> {
        let row = if self.same { 0 } else { row };
        self.values.is_valid(row).then(|| self.values.value(row))
    }
}

/// `value` as an unscaled integer at `scale` (never below its own); `None` past 38 digits.
fn rescale(value: Decimal, scale: u32) -> Option<i128> {
    10i128
        .checked_pow(scale.checked_sub(value.scale())?)?
        .checked_mul(value.mantissa())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Decimal128Array;

    use super::*;

    /// A slab table's shape, long: rows keyed by state and gender with `upto`, `below` and
    /// catch-alls, and 70 rows by site (more rows than a word of bits, more sites than a
    /// batch's short list of values) in the middle.
    fn slabs() -> Table {
        let row = |state: Option<&str>, gender: Option<&str>, site: Option<String>, bound: Bound, value: i64| Row {
            cells: vec![state.map(str::to_string), gender.map(str::to_string), site],
            bound,
            value: Decimal::from(value),
        };
        let d = |text: &str| text.parse::<Decimal>().unwrap();
        let mut rows = vec![
            row(Some("MH"), None, None, Bound::UpTo(d("7500")), 0),
            row(Some("MH"), Some("M"), None, Bound::UpTo(d("10000")), 175),
            row(Some("MH"), Some("F"), None, Bound::UpTo(d("25000")), 1),
            row(Some("KA"), None, None, Bound::Below(d("25000")), 2),
        ];
        rows.extend((0..70).map(|i| {
            row(
                None,
                Some("M"),
                Some(format!("S{i:02}")),
                Bound::UpTo(Decimal::from(i * 500)),
                1000 + i,
            )
        }));
        rows.extend([
            row(Some("MH"), None, None, Bound::Any, 200),
            row(None, Some("F"), None, Bound::Any, 3),
            row(Some("KA"), None, None, Bound::Any, 300),
            row(None, None, None, Bound::UpTo(d("0")), 4),
        ]);
        Table {
            name: "slabs".into(),
            description: String::new(),
            match_columns: vec!["state".into(), "gender".into(), "site".into()],
            range: Some("gross".into()),
            rows,
            scale: 0,
        }
    }

    /// The first row, in order, whose cells let the keys through and whose bound holds: the
    /// table's meaning, written as plainly as it reads.
    fn scanned(table: &Table, keys: [Option<&str>; 3], range: Option<Decimal>) -> Option<Decimal> {
        table.rows.iter().find_map(|r| {
            let cells = r.cells.iter().zip(keys).all(|(c, k)| c.is_none() || c.as_deref() == k);
            let holds = match (&r.bound, range) {
                (Bound::Any, _) => true,
                (_, None) => false,
                (Bound::UpTo(limit), Some(v)) => v <= *limit,
                (Bound::Below(limit), Some(v)) => v < *limit,
            };
            (cells && holds).then_some(r.value)
        })
    }

    /// Through DataFusion, keys per row and a constant key, the function gives every row what
    /// a scan of the table gives; so does `lookup`, which explains a miss.
    #[tokio::test]
    async fn the_function_gives_each_row_the_first_row_of_the_table_that_holds() {
        use datafusion::prelude::SessionContext;
        let table = Arc::new(slabs());
        let ctx = SessionContext::new();
        ctx.register_udf(table.udf());
        let sites: Vec<Option<String>> = (0..72).map(|i| Some(format!("S{i:02}"))).chain([None]).collect();
        let mut values = Vec::new();
        for state in [Some("MH"), Some("KA"), Some("TN"), None] {
            for gender in [Some("M"), Some("F"), None] {
                for site in &sites {
                    for gross in [
                        "NULL", "-1", "0", "7500", "7500.01", "10000", "24999.99", "25000", "30000",
                    ] {
                        let text = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
                        values.push(format!(
                            "({}, {}, {}, CAST({gross} AS DECIMAL(12, 2)))",
                            text(state),
                            text(gender),
                            text(site.as_deref())
                        ));
                    }
                }
            }
        }
        let sql = format!(
            "SELECT state, gender, site, gross, slabs(state, gender, site, gross) AS per_row, \
             slabs(state, 'M', site, gross) AS men FROM (VALUES {}) AS t(state, gender, site, gross)",
            values.join(", ")
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let mut ended = std::collections::BTreeSet::new();
        let mut rows = 0;
        for batch in &batches {
            let text = |c: usize| {
                cast(batch.column(c), &DataType::Utf8)
                    .unwrap()
                    .as_string::<i32>()
                    .clone()
            };
            let (state, gender, site) = (text(0), text(1), text(2));
            let gross = batch.column(3).as_primitive::<Decimal128Type>();
            assert_eq!(gross.scale(), 2);
            let gross: Vec<Option<i128>> = gross.iter().collect();
            let found = |c: usize| {
                let column = batch.column(c).as_primitive::<Decimal128Type>().clone();
                move |i: usize| column.is_valid(i).then(|| Decimal::from(column.value(i)))
            };
            let (per_row, men) = (found(4), found(5));
            for (i, gross) in gross.iter().enumerate() {
                let key = |a: &StringArray| a.is_valid(i).then(|| a.value(i).to_string());
                let keys = [key(&state), key(&gender), key(&site)];
                let keys = [keys[0].as_deref(), keys[1].as_deref(), keys[2].as_deref()];
                let gross_decimal = gross.map(|v| Decimal::from_i128_with_scale(v, 2));
                let expected = scanned(&table, keys, gross_decimal);
                assert_eq!(per_row(i), expected, "{keys:?} {gross:?}");
                assert_eq!(table.lookup(&keys, *gross, 2), expected, "lookup {keys:?} {gross:?}");
                let as_men = [keys[0], Some("M"), keys[2]];
                assert_eq!(men(i), scanned(&table, as_men, gross_decimal), "{as_men:?} {gross:?}");
                ended.insert(expected);
                rows += 1;
            }
        }
        assert_eq!(rows, values.len());
        assert!(ended.len() > 70, "most rows and a miss were reached: {ended:?}");
        assert!(
            ended.contains(&None) && ended.contains(&Some(Decimal::from(1069))),
            "{ended:?}"
        );
    }

    /// A number key matches the cell that reads as it does (month 2 the cell `2`, not `02`),
    /// whatever its integer type; a text key of 16 bytes or more is compared whole.
    #[tokio::test]
    async fn number_keys_match_as_text_and_long_keys_whole() {
        use datafusion::prelude::SessionContext;
        let row = |month: Option<&str>, name: Option<&str>, value: i64| Row {
            cells: vec![month.map(str::to_string), name.map(str::to_string)],
            bound: Bound::Any,
            value: Decimal::from(value),
        };
        let long = "a name of more than sixteen bytes";
        let table = Arc::new(Table {
            name: "by_month".into(),
            description: String::new(),
            match_columns: vec!["month".into(), "name".into()],
            range: None,
            rows: vec![
                row(Some("02"), None, 1),
                row(Some("12"), Some(long), 2),
                row(Some("2"), Some(long), 3),
                row(Some("2"), Some("short"), 4),
                row(Some("12"), None, 5),
            ],
            scale: 0,
        });
        let ctx = SessionContext::new();
        ctx.register_udf(table.udf());
        let names = [
            Some(long),
            Some("a name of more than sixteen bytez"),
            Some("short"),
            None,
        ];
        let mut values = Vec::new();
        for month in [Some(2), Some(12), Some(-2), None] {
            for name in names {
                let text = |v: Option<String>| v.unwrap_or_else(|| "NULL".to_string());
                values.push(format!(
                    "({}, {})",
                    text(month.map(|m| m.to_string())),
                    text(name.map(|n| format!("'{n}'")))
                ));
            }
        }
        for month_type in ["INT", "BIGINT", "SMALLINT"] {
            let sql = format!(
                "SELECT m, n, by_month(m, n) FROM (SELECT CAST(m AS {month_type}) AS m, n \
                 FROM (VALUES {}) AS t(m, n))",
                values.join(", ")
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let mut rows = 0;
            for batch in &batches {
                let months = cast(batch.column(0), &DataType::Int64).unwrap();
                let months = months.as_primitive::<Int64Type>();
                let names = batch.column(1).as_string::<i32>();
                let found = batch.column(2).as_primitive::<Decimal128Type>();
                for i in 0..batch.num_rows() {
                    let month = months.is_valid(i).then(|| months.value(i).to_string());
                    let name = names.is_valid(i).then(|| names.value(i));
                    let expected = table.lookup(&[month.as_deref(), name], None, 0);
                    let got = found.is_valid(i).then(|| Decimal::from(found.value(i)));
                    assert_eq!(got, expected, "{month_type} {month:?} {name:?}");
                    rows += 1;
                }
            }
            assert_eq!(rows, values.len());
        }
        assert_eq!(table.lookup(&[Some("2"), Some(long)], None, 0), Some(Decimal::from(3)));
        assert_eq!(
            table.lookup(&[Some("12"), Some("short")], None, 0),
            Some(Decimal::from(5))
        );
    }

    /// A bound checked against values of any scale says what comparing the decimals says,
    /// whether the bound has more places than the values (rounded to whole steps) or fewer.
    #[test]
    fn a_bound_at_the_values_scale_is_the_comparison_of_the_decimals() {
        let bounds = ["7500", "7500.005", "-0.5", "0", "12.345", "-12.345", "0.0000001"];
        for bound in bounds {
            let b: Decimal = bound.parse().unwrap();
            for scale in 0..=4u32 {
                let step = 10i128.pow(scale);
                for v in (-13 * step..=13 * step).step_by(step as usize / 4 + 1).chain([
                    7_499 * step,
                    7_500 * step,
                    7_500 * step + 1,
                    7_501 * step,
                ]) {
                    let d = Decimal::from_i128_with_scale(v, scale);
                    assert_eq!(Bound::UpTo(b).limit(scale).holds(Some(v)), d <= b, "{d} <= {b}");
                    assert_eq!(Bound::Below(b).limit(scale).holds(Some(v)), d < b, "{d} < {b}");
                    assert!(Bound::Any.limit(scale).holds(Some(v)));
                }
                assert!(!Bound::UpTo(b).limit(scale).holds(None), "no value is not up to {b}");
                assert!(Bound::Any.limit(scale).holds(None));
            }
        }
        // A bound past an i128 at the values' scale is past every 38-digit value.
        let most = 10i128.pow(38) - 1;
        let big: Decimal = "79228162514264337593543950335".parse().unwrap();
        assert!(Bound::UpTo(big).limit(38).holds(Some(most)));
        assert!(!Bound::Below(-big).limit(38).holds(Some(-most)));
    }

    #[test]
    fn values_past_38_digits_are_errors_and_ranges_past_28_compare_exactly() {
        let big: Decimal = "79228162514264337593543950335".parse().unwrap();
        assert_eq!(rescale(big, 28), None, "29 digits at scale 28 is past 38 digits");
        assert_eq!(rescale("12.5".parse().unwrap(), 2), Some(1250));

        // 38 digits: more than an exact decimal's 28, compared as they are.
        let most = 10i128.pow(38) - 1;
        let ranges = Decimal128Array::from(vec![Some(most), Some(-most), Some(750_000), None])
            .with_precision_and_scale(38, 2)
            .unwrap();
        let ranges = Ranges::new(&ColumnarValue::Array(Arc::new(ranges))).unwrap();
        let limits = [Bound::UpTo(Decimal::from(7500)).limit(ranges.scale)];
        let holding: Vec<bool> = (0..4).map(|i| limits[0].holds(ranges.get(i))).collect();
        assert_eq!(holding, [false, true, true, false]);

        // A negative scale is brought to 0; past 38 digits there, an error rather than NULL.
        let tens = Decimal128Array::from(vec![Some(75), Some(most)])
            .with_precision_and_scale(38, -2)
            .unwrap();
        let err = Ranges::new(&ColumnarValue::Array(Arc::new(tens.slice(1, 1))))
            .err()
            .unwrap();
        assert!(err.to_string().to_lowercase().contains("overflow"), "{err}");
        let hundreds = Ranges::new(&ColumnarValue::Array(Arc::new(tens.slice(0, 1)))).unwrap();
        assert_eq!((hundreds.scale, hundreds.get(0)), (0, Some(7_500)));
    }
}
