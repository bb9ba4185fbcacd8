//! Lookup tables: keyed and by range (slabs), inline or from CSV. A table is called in formulas
//! as a function of its match columns and then its range value, e.g. `pt_slabs(state, gender,
//! month, gross)`: the first row whose cells match and whose bound holds gives the value.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Builder, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
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
    fn holds(&self, value: Decimal) -> bool {
        match self {
            Bound::Any => true,
            Bound::UpTo(limit) => value <= *limit,
            Bound::Below(limit) => value < *limit,
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
        if self.lookup(&row_keys, range).is_some() {
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
            given.push(format!("{r}={}", quoted(range.map(|v| v.to_string()))));
        }
        Ok(Some(format!(
            "no row of table `{}` for {}",
            self.name,
            given.join(", ")
        )))
    }

    fn lookup(&self, keys: &[Option<&str>], range: Option<Decimal>) -> Option<Decimal> {
        let mut rows = self.every_row();
        for (column, key) in keys.iter().enumerate() {
            rows.keep(&self.rows_letting(column, *key));
        }
        self.first_holding(&rows, range).map(|i| self.rows[i].value)
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

    /// The first of `rows`, in the table's order, whose bound holds for `range`.
    fn first_holding(&self, rows: &RowSet, range: Option<Decimal>) -> Option<usize> {
        rows.iter().find(|&i| {
            let row = &self.rows[i];
            match range {
                Some(v) => row.bound.holds(v),
                None => row.bound == Bound::Any,
            }
        })
    }
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

/// A key column's values met in a batch, with the rows each lets through. Its values repeat (a
/// state, a skill, the month): a short list searched in order costs less than hashing each
/// row's, and a column of many values (sites, say) goes on in a hash map.
#[derive(Default)]
struct Letting<'a> {
    few: Vec<(Option<&'a str>, RowSet)>,
    many: HashMap<Option<&'a str>, RowSet, RandomState>,
}

impl<'a> Letting<'a> {
    const FEW: usize = 8;

    fn rows(&mut self, table: &Table, column: usize, key: Option<&'a str>) -> &RowSet {
        if let Some(at) = self.few.iter().position(|(k, _)| *k == key) {
            return &self.few[at].1;
        }
        if self.few.len() < Self::FEW {
            self.few.push((key, table.rows_letting(column, key)));
            return &self.few[self.few.len() - 1].1;
        }
        self.many.entry(key).or_insert_with(|| table.rows_letting(column, key))
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
struct TableFn {
    table: Arc<Table>,
    signature: Signature,
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
        let keys = key_args.iter().map(Keys::new).collect::<Result<Vec<_>>>()?;
        let ranges = range_arg.first().map(Ranges::new).transpose()?;
        let mut out = Decimal128Builder::with_capacity(n);
        // The rows a constant key lets through are the same for every worker; a key per row
        // looks its value's rows up among the batch's values met so far.
        let mut constant = table.every_row();
        let mut per_row = Vec::new();
        for (column, key) in keys.iter().enumerate() {
            match key {
                Keys::Same(key) => constant.keep(&table.rows_letting(column, key.as_deref())),
                Keys::PerRow(_) => per_row.push((column, key, Letting::default())),
            }
        }
        // Each row's value at the table's scale, once (`None`: it does not fit 38 digits).
        let values: Vec<Option<i128>> = table.rows.iter().map(|r| rescale(r.value, table.scale)).collect();
        let mut rows = constant.clone();
        for i in 0..n {
            rows.0.copy_from_slice(&constant.0);
            for (column, key, letting) in &mut per_row {
                rows.keep(letting.rows(table, *column, key.get(i)));
            }
            let range = ranges.as_ref().and_then(|r| r.get(i));
            match table.first_holding(&rows, range) {
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

/// A key argument as text: a constant (`'employee'`) stays one value rather than a column of
/// copies.
enum Keys {
    Same(Option<String>),
    PerRow(StringArray),
}

impl Keys {
    fn new(arg: &ColumnarValue) -> Result<Keys> {
        Ok(match arg {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Utf8)? {
                ScalarValue::Utf8(v) => Keys::Same(v),
                other => return exec_err!("a table key cast to text gave {other:?}"),
            },
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

/// The range argument as decimals.
enum Ranges {
    Same(Option<Decimal>),
    PerRow(Vec<Option<Decimal>>),
}

impl Ranges {
    fn new(arg: &ColumnarValue) -> Result<Ranges> {
        Ok(match arg {
            ColumnarValue::Scalar(s) => Ranges::Same(range_values(&s.to_array()?)?[0]),
            ColumnarValue::Array(a) => Ranges::PerRow(range_values(a)?),
        })
    }

    fn get(&self, row: usize) -> Option<Decimal> {
        match self {
            Ranges::Same(v) => *v,
            Ranges::PerRow(v) => v[row],
        }
    }
}

/// `value` as an unscaled integer at `scale` (never below its own); `None` past 38 digits.
fn rescale(value: Decimal, scale: u32) -> Option<i128> {
    10i128
        .checked_pow(scale.checked_sub(value.scale())?)?
        .checked_mul(value.mantissa())
}

fn range_values(array: &ArrayRef) -> Result<Vec<Option<Decimal>>> {
    match array.data_type() {
        DataType::Decimal128(_, scale) => {
            let scale = *scale as u32;
            array
                .as_primitive::<Decimal128Type>()
                .iter()
                .map(|v| {
                    v.map(|v| {
                        Decimal::try_from_i128_with_scale(v, scale).map_err(|_| {
                            DataFusionError::Execution(format!(
                                "a table's range argument {v} (scale {scale}) is beyond an exact decimal's 28 digits"
                            ))
                        })
                    })
                    .transpose()
                })
                .collect()
        }
        t if t.is_integer() => Ok(cast(array, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.map(Decimal::from))
            .collect()),
        t => exec_err!("a table's range argument must be a number, not {t}"),
    }
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
            let holds = match range {
                Some(v) => r.bound.holds(v),
                None => r.bound == Bound::Any,
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
            let gross = range_values(batch.column(3)).unwrap();
            let found = |c: usize| {
                let column = batch.column(c).as_primitive::<Decimal128Type>().clone();
                move |i: usize| column.is_valid(i).then(|| Decimal::from(column.value(i)))
            };
            let (per_row, men) = (found(4), found(5));
            for (i, gross) in gross.iter().enumerate() {
                let key = |a: &StringArray| a.is_valid(i).then(|| a.value(i).to_string());
                let keys = [key(&state), key(&gender), key(&site)];
                let keys = [keys[0].as_deref(), keys[1].as_deref(), keys[2].as_deref()];
                let expected = scanned(&table, keys, *gross);
                assert_eq!(per_row(i), expected, "{keys:?} {:?}", *gross);
                assert_eq!(table.lookup(&keys, *gross), expected, "lookup {keys:?} {:?}", *gross);
                let as_men = [keys[0], Some("M"), keys[2]];
                assert_eq!(men(i), scanned(&table, as_men, *gross), "{as_men:?} {:?}", *gross);
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

    #[test]
    fn values_and_ranges_past_an_exact_decimal_are_errors_not_panics() {
        let big: Decimal = "79228162514264337593543950335".parse().unwrap();
        assert_eq!(rescale(big, 28), None, "29 digits at scale 28 is past 38 digits");
        assert_eq!(rescale("12.5".parse().unwrap(), 2), Some(1250));

        let ranges: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(i128::MAX), Some(1_050)])
                .with_precision_and_scale(38, 2)
                .unwrap(),
        );
        let err = range_values(&ranges).unwrap_err().to_string();
        assert!(err.contains("beyond an exact decimal"), "{err}");
        let fits: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(1_050)])
                .with_precision_and_scale(38, 2)
                .unwrap(),
        );
        assert_eq!(range_values(&fits).unwrap(), vec![Some("10.50".parse().unwrap())]);
    }
}
