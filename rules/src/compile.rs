//! From one version of a ruleset to a DataFusion plan: resolve every name a formula uses, order
//! components by their dependencies, plan each formula as a logical `Expr` over the inputs and
//! the components before it, check its type, and group components into projection layers so
//! a component is computed once and read by the ones after it.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::dataframe::DataFrame;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::context::{SessionConfig, SessionContext, SessionState};
use datafusion::functions::core::expr_fn::nullif;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};
use datafusion::optimizer::analyzer::type_coercion::TypeCoercionRewriter;
use datafusion::sql::sqlparser::ast::{self, visit_expressions};
use toml::Spanned;

use crate::check::{BuiltIn, Check, Message, PREV, Severity, has_prev};
use crate::choose::{cannot_fail, choose};
use crate::error::{Diagnostic, Location, Result};
use crate::file::{Category, CheckDef, ComponentDef, PayslipDef, ReturnsDef, TableDef, line_of};
use crate::labels::Labels;
use crate::rounding::Rounding;
use crate::table::Table;
use crate::vocabulary;

/// One component as compiled: what payslips, `explain` and the register need to know of it.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub label: String,
    pub category: Category,
    pub rounding: Rounding,
    /// The formula as written; `None` for an input declared as a payslip line.
    pub formula: Option<String>,
    pub condition: Option<String>,
    /// Inputs and components the formula and condition read, in order of first use.
    pub uses: Vec<String>,
    pub from_input: bool,
    pub data_type: DataType,
    pub line: usize,
}

/// A ruleset version ready to run.
#[derive(Debug)]
pub struct CompiledVersion {
    pub version: String,
    pub effective_from: NaiveDate,
    pub description: String,
    /// The components a payslip prints as its totals, when the ruleset names them.
    pub payslip: Option<PayslipDef>,
    /// What feeds the statutory returns, when the ruleset says.
    pub returns: Option<ReturnsDef>,
    /// In the order the file lists them (the payslip order).
    pub components: Vec<Component>,
    pub tables: Vec<Arc<Table>>,
    /// What each worker's row is checked for after it is computed, in the file's order.
    pub checks: Vec<Check>,
    /// Component labels in other languages (the file's `[labels.*]` tables).
    pub labels: Labels,
    layers: Vec<Vec<Expr>>,
    output: Vec<String>,
    /// Each computed component's plan, by name: what `why_no_value` walks.
    pub(crate) plans: HashMap<String, Plan>,
}

/// A computed component as planned: the expression computed, and its formula and condition
/// (type-coerced, divisions guarded) that `why_no_value` walks to say why there is no value.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub expr: Expr,
    pub formula: Expr,
    pub condition: Option<Expr>,
}

impl CompiledVersion {
    /// Adds the components to `df`, whose schema is `vocabulary::schema()`, and returns the
    /// inputs followed by every computed component.
    pub fn apply(&self, mut df: DataFrame) -> datafusion::error::Result<DataFrame> {
        for layer in &self.layers {
            let mut exprs: Vec<Expr> = df.schema().columns().into_iter().map(Expr::Column).collect();
            exprs.extend(layer.iter().cloned());
            df = df.select(exprs)?;
        }
        let output: Vec<&str> = self.output.iter().map(String::as_str).collect();
        df.select_columns(&output)
    }

    /// Runs the plan over one batch of inputs (tests, `explain`).
    pub async fn evaluate(&self, inputs: RecordBatch) -> Result<Vec<RecordBatch>> {
        let ctx = crate::session(SessionConfig::new());
        Ok(self.apply(ctx.read_batch(inputs)?)?.collect().await?)
    }

    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }

    /// A component's label in a language (an ISO 639 code), else its own label.
    pub fn label_in<'a>(&'a self, component: &'a Component, language: &str) -> &'a str {
        self.labels.label(language, &component.name, &component.label)
    }

    /// Result columns: the inputs, then the computed components in file order.
    pub fn output_columns(&self) -> &[String] {
        &self.output
    }

    /// The `prev_<component>` columns the checks read: the column, its component and its type.
    pub fn prev_columns(&self) -> Vec<(String, String, DataType)> {
        let mut columns: Vec<(String, String, DataType)> = Vec::new();
        for name in self.checks.iter().flat_map(|c| &c.uses) {
            if let Some(component) = name.strip_prefix(PREV).and_then(|c| self.component(c))
                && !columns.iter().any(|(n, ..)| n == name)
            {
                columns.push((name.clone(), component.name.clone(), component.data_type.clone()));
            }
        }
        columns
    }

    /// `df` (results with the [`prev_columns`](Self::prev_columns)) with a true-or-false column
    /// per check, named as the check: true where it fires. A condition that is NULL (a last
    /// period the worker was not paid in) does not fire.
    pub fn check_columns(&self, df: DataFrame) -> datafusion::error::Result<DataFrame> {
        let mut exprs: Vec<Expr> = df.schema().columns().into_iter().map(Expr::Column).collect();
        exprs.extend(self.checks.iter().map(|c| c.expr.clone().is_true().alias(&c.name)));
        df.select(exprs)
    }
}

/// What `compile` needs of one version: its components and tables after revisions are applied.
pub(crate) struct VersionSource<'a> {
    pub version: String,
    pub effective_from: NaiveDate,
    pub description: String,
    pub payslip: Option<&'a Spanned<PayslipDef>>,
    pub returns: Option<&'a Spanned<ReturnsDef>>,
    pub components: Vec<&'a Spanned<ComponentDef>>,
    pub tables: BTreeMap<String, &'a Spanned<TableDef>>,
    pub checks: &'a [Spanned<CheckDef>],
}

/// The ruleset text and where it lives, for line numbers and table files.
pub(crate) struct Source<'a> {
    pub text: &'a str,
    pub file: &'a Path,
}

impl Source<'_> {
    fn at(&self, offset: usize, component: Option<&str>) -> Location {
        Location {
            file: self.file.to_path_buf(),
            line: line_of(self.text, offset),
            component: component.map(str::to_string),
        }
    }

    /// The line of the first formula line in a string value starting at `offset`: a multi-line
    /// TOML string drops the newline right after its opening quotes.
    fn formula_line(&self, offset: usize) -> usize {
        let rest = &self.text[offset.min(self.text.len())..];
        let skips_newline =
            (rest.starts_with("\"\"\"") || rest.starts_with("'''")) && rest[3..].starts_with(['\n', '\r']);
        line_of(self.text, offset) + usize::from(skips_newline)
    }
}

/// A formula parsed to SQL syntax, with the names it reads and the functions it calls.
struct Parsed {
    ast: ast::Expr,
    uses: Vec<(String, usize)>,
    calls: Vec<String>,
}

#[allow(
    clippy::expect_used,
    reason = "inputs are checked to be in the vocabulary above; every component is planned before this loop"
)]
pub(crate) fn compile(
    source: &Source<'_>,
    version: VersionSource<'_>,
    table_files: &mut BTreeMap<String, Vec<u8>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<CompiledVersion> {
    let before = diagnostics.len();
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().set_bool("datafusion.sql_parser.parse_float_as_decimal", true),
    );
    let dir = source.file.parent().unwrap_or(Path::new("."));
    let mut tables = Vec::new();
    let mut failed_tables = Vec::new();
    for (name, def) in &version.tables {
        match Table::build(name, def.get_ref(), def.span().start, source.text, dir) {
            Ok((table, bytes)) => {
                if ctx.udf(name).is_ok() {
                    diagnostics.push(Diagnostic {
                        location: source.at(def.span().start, None),
                        message: format!("table `{name}` has the name of a built-in function; rename it"),
                    });
                }
                if let (Some(bytes), Some(file)) = (bytes, &def.get_ref().file) {
                    table_files.insert(file.get_ref().clone(), bytes);
                }
                let table = Arc::new(table);
                ctx.register_udf(table.udf());
                tables.push(table);
            }
            Err(fault) => {
                failed_tables.push(name.as_str());
                diagnostics.push(Diagnostic {
                    location: Location {
                        file: fault.file.unwrap_or_else(|| source.file.to_path_buf()),
                        line: fault.line,
                        component: None,
                    },
                    message: fault.message,
                })
            }
        }
    }

    let state = ctx.state();
    let mut parsed: Vec<(Option<Parsed>, Option<Parsed>)> = Vec::new();
    // Components with a fault of their own; planning skips them and what depends on them.
    let mut failed: Vec<bool> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, def) in version.components.iter().enumerate() {
        let faults_before = diagnostics.len();
        let c = def.get_ref();
        let name = c.name.get_ref().as_str();
        let at = || source.at(c.name.span().start, Some(name));
        let mut fault = |message: String| {
            diagnostics.push(Diagnostic {
                location: at(),
                message,
            })
        };
        if !is_identifier(name) {
            fault("a component name is lower-case letters, digits and `_`, starting with a letter".into());
        }
        if index.insert(name, i).is_some() {
            fault("defined twice".into());
        }
        match (c.input, vocabulary::get(name).is_some(), &c.expr) {
            (true, false, _) => fault(format!(
                "`input = true` but `{name}` is not an input (see `payroll rules inputs`)"
            )),
            (true, true, Some(_)) => fault("an input declaration has no `expr`".into()),
            (false, true, _) => fault(format!(
                "`{name}` is an input; declare it with `input = true` or choose another name"
            )),
            (false, false, None) => fault("needs an `expr`".into()),
            _ => {}
        }
        if c.category == Category::Flag && c.round != Rounding::None {
            fault("a flag is true or false and cannot be rounded".into());
        }
        let formula = c
            .expr
            .as_ref()
            .and_then(|e| parse(&state, source, e, name, diagnostics));
        let condition = c
            .when
            .as_ref()
            .and_then(|e| parse(&state, source, e, name, diagnostics));
        // A formula calling a table that failed to load would only echo the table's fault.
        let calls_failed_table = formula
            .iter()
            .chain(&condition)
            .flat_map(|p| &p.calls)
            .any(|f| failed_tables.contains(&f.as_str()));
        failed.push(diagnostics.len() > faults_before || calls_failed_table);
        parsed.push((formula, condition));
    }

    let names_before = diagnostics.len();
    for (def, (formula, condition)) in version.components.iter().zip(&parsed) {
        let name = def.get_ref().name.get_ref();
        for (used, line) in formula.iter().chain(condition).flat_map(|p| &p.uses) {
            if vocabulary::get(used).is_none() && !index.contains_key(used.as_str()) {
                let known = vocabulary::INPUTS.iter().map(|i| i.name).chain(index.keys().copied());
                diagnostics.push(Diagnostic {
                    location: Location {
                        file: source.file.to_path_buf(),
                        line: *line,
                        component: Some(name.clone()),
                    },
                    message: format!("unknown name `{used}`{}", suggestion(used, known)),
                });
            }
        }
    }
    if diagnostics.len() > names_before {
        return None;
    }

    let uses = |i: usize| -> Vec<&str> {
        let (f, c) = &parsed[i];
        f.iter()
            .chain(c)
            .flat_map(|p| p.uses.iter().map(|(u, _)| u.as_str()))
            .collect()
    };
    let order = match dependency_order(version.components.len(), |i| {
        uses(i).into_iter().filter_map(|u| index.get(u).copied()).collect()
    }) {
        Ok(order) => order,
        Err(cycle) => {
            let names: Vec<&str> = cycle
                .iter()
                .map(|&i| version.components[i].get_ref().name.get_ref().as_str())
                .collect();
            let first = version.components[cycle[0]].get_ref();
            diagnostics.push(Diagnostic {
                location: source.at(first.name.span().start, Some(names[0])),
                message: format!("dependency cycle: {}", names.join(" -> ")),
            });
            return None;
        }
    };

    // Plan in dependency order. A component that fails is reported and its dependents are
    // skipped (their faults would only echo it), so one check shows every independent fault.
    let mut fields: Vec<Field> = vocabulary::schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut level = vec![0usize; parsed.len()];
    let mut planned: Vec<Option<(Plan, DataType)>> = vec![None; parsed.len()];
    for &i in &order {
        let def = version.components[i].get_ref();
        let name = def.name.get_ref().as_str();
        let at = source.at(def.name.span().start, Some(name));
        if failed[i] || uses(i).iter().filter_map(|u| index.get(u)).any(|&d| failed[d]) {
            failed[i] = true;
            continue;
        }
        let schema = match DFSchema::try_from(Schema::new(fields.clone())) {
            Ok(s) => s,
            Err(e) => {
                diagnostics.push(Diagnostic {
                    location: at,
                    message: e.to_string(),
                });
                return None;
            }
        };
        let result = if def.input {
            let input = vocabulary::get(name).expect("checked above");
            let column = Expr::Column(name.into());
            let plan = Plan {
                expr: column.clone(),
                formula: column,
                condition: None,
            };
            Ok((plan, input.data_type.clone()))
        } else {
            plan_component(&state, &schema, def, &parsed[i])
        };
        match result {
            Ok((plan, data_type)) => {
                if !def.input {
                    fields.push(Field::new(name, data_type.clone(), true));
                }
                level[i] = uses(i)
                    .into_iter()
                    .filter_map(|u| index.get(u))
                    .filter(|&&d| !version.components[d].get_ref().input)
                    .map(|&d| level[d] + 1)
                    .max()
                    .unwrap_or(0);
                planned[i] = Some((plan, data_type));
            }
            Err(message) => {
                diagnostics.push(Diagnostic { location: at, message });
                failed[i] = true;
            }
        }
    }
    if diagnostics.len() > before {
        return None;
    }
    let checks = compile_checks(&state, source, version.checks, &fields, diagnostics);

    let mut layers: Vec<Vec<Expr>> = vec![Vec::new(); level.iter().max().map_or(0, |m| m + 1)];
    let mut components = Vec::with_capacity(parsed.len());
    let mut plans = HashMap::new();
    let mut output: Vec<String> = vocabulary::INPUTS.iter().map(|i| i.name.to_string()).collect();
    for (i, def) in version.components.iter().enumerate() {
        let c = def.get_ref();
        let (plan, data_type) = planned[i].take().expect("every component planned");
        let name = c.name.get_ref().clone();
        if !c.input {
            layers[level[i]].push(plan.expr.clone().alias(&name));
            plans.insert(name.clone(), plan);
            output.push(name.clone());
        }
        components.push(Component {
            label: c.label.clone().unwrap_or_else(|| default_label(&name)),
            category: c.category,
            rounding: c.round,
            formula: c.expr.as_ref().map(|e| e.get_ref().trim().to_string()),
            condition: c.when.as_ref().map(|e| e.get_ref().trim().to_string()),
            uses: dedup(uses(i)),
            from_input: c.input,
            data_type,
            line: line_of(source.text, def.span().start),
            name,
        });
    }
    if let Some(payslip) = version.payslip {
        let p = payslip.get_ref();
        for name in [&p.gross, &p.deductions, &p.net] {
            if !components
                .iter()
                .any(|c| &c.name == name && c.category != Category::Flag)
            {
                diagnostics.push(Diagnostic {
                    location: source.at(payslip.span().start, None),
                    message: format!(
                        "[payslip] names `{name}`, which is not an amount component of version {}",
                        version.version
                    ),
                });
            }
        }
    }
    if let Some(returns) = version.returns {
        check_returns(returns.get_ref(), &components, &version.version, &mut |message| {
            diagnostics.push(Diagnostic {
                location: source.at(returns.span().start, None),
                message,
            })
        });
    }
    if diagnostics.len() > before {
        return None;
    }
    Some(CompiledVersion {
        payslip: version.payslip.map(|p| p.get_ref().clone()),
        returns: version.returns.map(|r| r.get_ref().clone()),
        version: version.version,
        effective_from: version.effective_from,
        description: version.description,
        components,
        tables,
        checks,
        labels: Labels::default(),
        layers,
        output,
        plans,
    })
}

/// Compiles each check's condition over `fields` (the inputs and every computed component) and
/// the `prev_` column of each computed amount, count or flag; a fault names the check and line.
fn compile_checks(
    state: &SessionState,
    source: &Source<'_>,
    defs: &[Spanned<CheckDef>],
    fields: &[Field],
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Check> {
    let mut columns: Vec<Field> = fields.to_vec();
    columns.extend(
        fields[vocabulary::INPUTS.len()..]
            .iter()
            .filter(|f| has_prev(f.data_type()))
            .map(|f| Field::new(format!("{PREV}{}", f.name()), f.data_type().clone(), true)),
    );
    let schema = match DFSchema::try_from(Schema::new(columns.clone())) {
        Ok(schema) => schema,
        Err(e) => {
            diagnostics.push(Diagnostic {
                location: source.at(0, None),
                message: e.to_string(),
            });
            return Vec::new();
        }
    };
    let known = |name: &str| columns.iter().any(|f| f.name() == name);
    let names = || columns.iter().map(|f| f.name().as_str());
    let mut seen: Vec<&str> = Vec::new();
    let mut checks = Vec::new();
    for def in defs {
        let c = def.get_ref();
        let name = c.name.get_ref().as_str();
        let line = |offset: usize| line_of(source.text, offset);
        let mut faults: Vec<(usize, String)> = Vec::new();
        let at = line(c.name.span().start);
        if !is_identifier(name) {
            faults.push((
                at,
                "a check name is lower-case letters, digits and `_`, starting with a letter".into(),
            ));
        }
        if seen.contains(&name) {
            faults.push((at, "defined twice".into()));
        }
        seen.push(name);
        if known(name) {
            faults.push((
                at,
                format!("`{name}` names an input or a component: a check needs a name of its own"),
            ));
        }
        if BuiltIn::ALL.iter().any(|b| b.name() == name) {
            faults.push((at, format!("`{name}` is a built-in check: choose another name")));
        }
        let severity = match c.severity.get_ref().as_str() {
            "block" => Some(Severity::Block),
            "warn" => Some(Severity::Warn),
            other => {
                faults.push((
                    line(c.severity.span().start),
                    format!("severity `{other}`: expected block or warn"),
                ));
                None
            }
        };
        let message_line = source.formula_line(c.message.span().start);
        let message = match Message::parse(c.message.get_ref()) {
            Ok(message) => Some(message),
            Err(e) => {
                faults.push((message_line, e));
                None
            }
        };
        for quoted in message.iter().flat_map(Message::quotes) {
            if !known(quoted) {
                faults.push((
                    message_line,
                    format!(
                        "the message quotes `{{{quoted}}}`, which is no input, component or prev_ column{}",
                        suggestion(quoted, names())
                    ),
                ));
            }
        }
        let mut parse_faults = Vec::new();
        let parsed = parse(state, source, &c.when, name, &mut parse_faults);
        faults.extend(parse_faults.into_iter().map(|d| (d.location.line, d.message)));
        for (used, at) in parsed.iter().flat_map(|p| &p.uses) {
            if !known(used) {
                faults.push((*at, format!("unknown name `{used}`{}", suggestion(used, names()))));
            }
        }
        let when_line = source.formula_line(c.when.span().start);
        let planned = match (&parsed, faults.is_empty()) {
            (Some(parsed), true) => match plan_sql(state, &schema, parsed) {
                Ok(expr) => match expr.get_type(&schema) {
                    Ok(DataType::Boolean) => Some(expr),
                    Ok(other) => {
                        faults.push((
                            when_line,
                            format!("type mismatch: `when` must be true or false, but gives {other}"),
                        ));
                        None
                    }
                    Err(e) => {
                        faults.push((when_line, strip_prefix(&e.to_string())));
                        None
                    }
                },
                Err(message) => {
                    faults.push((when_line, message));
                    None
                }
            },
            _ => None,
        };
        diagnostics.extend(faults.into_iter().map(|(line, message)| Diagnostic {
            location: Location {
                file: source.file.to_path_buf(),
                line,
                component: None,
            },
            message: format!("check `{name}`: {message}"),
        }));
        let (Some(expr), Some(severity), Some(message), Some(parsed)) = (planned, severity, message, parsed) else {
            continue;
        };
        let uses = dedup(
            parsed
                .uses
                .iter()
                .map(|(u, _)| u.as_str())
                .chain(message.quotes())
                .collect(),
        );
        checks.push(Check {
            label: c.label.clone().unwrap_or_else(|| default_label(name)),
            name: name.to_string(),
            severity,
            when: c.when.get_ref().trim().to_string(),
            message,
            uses,
            line: at,
            expr,
        });
    }
    checks
}

/// Every name `[returns]` gives is a column the results carry: an amount or count for the
/// return's columns (a component that is not a flag, or a numeric input), a boolean for who is a
/// member (an input or a flag).
fn check_returns(returns: &ReturnsDef, components: &[Component], version: &str, fault: &mut dyn FnMut(String)) {
    let column_type = |name: &str| {
        components
            .iter()
            .find(|c| c.name == name)
            .map(|c| (c.category == Category::Flag, c.data_type.clone()))
            .or_else(|| vocabulary::get(name).map(|i| (false, i.data_type.clone())))
    };
    let mut check = |section: &str, member: &str, columns: Vec<(&str, &crate::file::Names)>| {
        match column_type(member) {
            Some((_, DataType::Boolean)) => {}
            _ => fault(format!(
                "[returns.{section}] member names `{member}`, which is not a flag or a true/false input of version {version}"
            )),
        }
        for (column, names) in columns {
            if names.names().is_empty() {
                fault(format!(
                    "[returns.{section}] {column} names nothing: give a component or input"
                ));
            }
            for name in names.names() {
                match column_type(name) {
                    Some((false, DataType::Decimal128(..) | DataType::Int64)) => {}
                    _ => fault(format!(
                        "[returns.{section}] {column} names `{name}`, which is not an amount component or a numeric input of version {version}"
                    )),
                }
            }
        }
    };
    if let Some(ecr) = &returns.ecr {
        check("ecr", &ecr.member, ecr.columns());
    }
    if let Some(esic) = &returns.esic {
        check("esic", &esic.member, esic.columns());
    }
}

fn parse(
    state: &SessionState,
    source: &Source<'_>,
    text: &Spanned<String>,
    component: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Parsed> {
    let first_line = source.formula_line(text.span().start);
    let location = |sql_line: u64| Location {
        file: source.file.to_path_buf(),
        line: first_line + (sql_line.max(1) as usize) - 1,
        component: Some(component.to_string()),
    };
    let dialect = state.config().options().sql_parser.dialect;
    let ast = match state.sql_to_expr(text.get_ref(), &dialect) {
        Ok(ast) => ast,
        Err(e) => {
            diagnostics.push(Diagnostic {
                location: location(1),
                message: format!("cannot parse formula: {}", strip_prefix(&e.to_string())),
            });
            return None;
        }
    };
    let mut uses = Vec::new();
    let mut calls = Vec::new();
    let mut faults = Vec::new();
    let _: ControlFlow<()> = visit_expressions(&ast, |e| {
        match e {
            ast::Expr::Identifier(ident) => {
                let name = match ident.quote_style {
                    Some(_) => ident.value.clone(),
                    None => ident.value.to_lowercase(),
                };
                uses.push((name, location(ident.span.start.line).line));
            }
            ast::Expr::Function(f) => calls.push(f.name.to_string().to_lowercase()),
            ast::Expr::CompoundIdentifier(parts) => faults.push((
                location(parts[0].span.start.line),
                format!("`{e}`: names are plain (`gross`), not qualified"),
            )),
            ast::Expr::Value(v) => {
                if let ast::Value::Number(n, _) = &v.value
                    && n.contains(['e', 'E'])
                {
                    faults.push((
                        location(v.span.start.line),
                        format!("float literal `{n}` on money: write it as a plain decimal"),
                    ));
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    });
    let ok = faults.is_empty();
    diagnostics.extend(
        faults
            .into_iter()
            .map(|(location, message)| Diagnostic { location, message }),
    );
    ok.then_some(Parsed { ast, uses, calls })
}

/// Plans a component's formula, condition and rounding; the error is the message to show.
#[allow(clippy::expect_used, reason = "a computed component has a formula")]
fn plan_component(
    state: &SessionState,
    schema: &DFSchema,
    def: &ComponentDef,
    (formula, condition): &(Option<Parsed>, Option<Parsed>),
) -> std::result::Result<(Plan, DataType), String> {
    let to_expr = |p: &Parsed| plan_sql(state, schema, p);
    let formula = formula.as_ref().expect("a computed component has a formula");
    let formula = to_expr(formula)?;
    let mut expr = formula.clone();
    let data_type = expr.get_type(schema).map_err(|e| strip_prefix(&e.to_string()))?;
    let numeric = data_type.is_integer() || matches!(data_type, DataType::Decimal128(..));
    match def.category {
        Category::Flag if data_type != DataType::Boolean => {
            return Err(format!(
                "type mismatch: a flag must be true or false, but the formula gives {data_type}"
            ));
        }
        Category::Flag => {}
        category if !numeric => {
            return Err(format!(
                "type mismatch: a component of category {} must be an amount (decimal or integer), but the formula gives {data_type}",
                category.as_str()
            ));
        }
        _ => {}
    }
    let mut planned_condition = None;
    if let Some(condition) = condition {
        let when = to_expr(condition)?;
        let when_type = when.get_type(schema).map_err(|e| strip_prefix(&e.to_string()))?;
        if when_type != DataType::Boolean {
            return Err(format!(
                "type mismatch: `when` must be true or false, but gives {when_type}"
            ));
        }
        // Zero (or false) of the formula's own type, so the CASE has one type.
        let otherwise = ScalarValue::new_zero(&data_type)
            .or_else(|_| ScalarValue::try_from(&data_type))
            .map_err(|e| strip_prefix(&e.to_string()))?;
        let otherwise = match def.category {
            Category::Flag => ScalarValue::Boolean(Some(false)),
            _ => otherwise,
        };
        expr = match any_zero_divisor(&when, schema)? {
            None if cannot_fail(&expr, schema) => choose(when.clone(), expr, datafusion::prelude::lit(otherwise)),
            zero_divisor => {
                let mut case = datafusion::prelude::when(when.clone(), expr);
                // A condition that divides by zero has no answer: the component has no value (a
                // worker error) rather than the `otherwise` a false condition gives.
                if let Some(zero_divisor) = zero_divisor {
                    let no_value = ScalarValue::try_from(&data_type).map_err(|e| strip_prefix(&e.to_string()))?;
                    case = case.when(zero_divisor, datafusion::prelude::lit(no_value));
                }
                case.otherwise(datafusion::prelude::lit(otherwise))
                    .map_err(|e| strip_prefix(&e.to_string()))?
            }
        };
        planned_condition = Some(when);
    }
    let expr = def.round.apply(expr);
    let data_type = expr.get_type(schema).map_err(|e| strip_prefix(&e.to_string()))?;
    let plan = Plan {
        expr,
        formula,
        condition: planned_condition,
    };
    Ok((plan, data_type))
}

/// A formula or condition as a typed expression over `schema`: coerced, free of floats, and
/// without a value (rather than failing) where it divides by zero.
fn plan_sql(state: &SessionState, schema: &DFSchema, p: &Parsed) -> std::result::Result<Expr, String> {
    let sql = ast::ExprWithAlias {
        expr: p.ast.clone(),
        alias: None,
    };
    let expr = state
        .create_logical_expr_from_sql_expr(sql, schema)
        .map_err(|e| strip_prefix(&e.to_string()))?;
    let expr = coerce(expr, schema)?;
    reject_floats(&expr, schema)?;
    no_value_on_zero_divisor(expr, schema)
}

/// Applies DataFusion's type coercion now rather than at run time, so types are known (and
/// checked) at compile time: `CASE ... THEN 750.00 ELSE 0 END` is a decimal.
fn coerce(expr: Expr, schema: &DFSchema) -> std::result::Result<Expr, String> {
    expr.rewrite(&mut TypeCoercionRewriter::new(schema))
        .map(|t| t.data)
        .map_err(|e| strip_prefix(&e.to_string()))
}

/// A division (or remainder) by zero gives no value instead of failing the whole calculation:
/// `a / b` becomes `a / nullif(b, 0)`, so only the workers whose divisor is zero are left
/// without a value, each reported as a worker error (`why_no_value` names the divisor).
fn no_value_on_zero_divisor(expr: Expr, schema: &DFSchema) -> std::result::Result<Expr, String> {
    expr.transform_up(|e| match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if matches!(op, Operator::Divide | Operator::Modulo) => {
            let zero = ScalarValue::new_zero(&right.get_type(schema)?)?;
            let divisor = nullif(*right, datafusion::prelude::lit(zero));
            Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
                left,
                op,
                Box::new(divisor),
            ))))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(|e| strip_prefix(&e.to_string()))
}

/// `d1 = 0 OR d2 = 0 ...` over the divisors in `expr`, if it divides.
fn any_zero_divisor(expr: &Expr, schema: &DFSchema) -> std::result::Result<Option<Expr>, String> {
    let mut divisors = Vec::new();
    expr.apply(|e| {
        if let Some(divisor) = zero_guarded_divisor(e) {
            divisors.push(divisor.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|e| strip_prefix(&e.to_string()))?;
    divisors
        .into_iter()
        .map(|d| {
            let zero = ScalarValue::new_zero(&d.get_type(schema)?)?;
            Ok(d.eq(datafusion::prelude::lit(zero)))
        })
        .reduce(|a: datafusion::error::Result<Expr>, b| Ok(a?.or(b?)))
        .transpose()
        .map_err(|e| strip_prefix(&e.to_string()))
}

/// Whether `expr` is the divisor `no_value_on_zero_divisor` wrote, and what it divides by.
pub(crate) fn zero_guarded_divisor(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::ScalarFunction(f) if f.name() == "nullif" && f.args.len() == 2 => {
            matches!(&f.args[1], Expr::Literal(zero, _) if is_zero(zero)).then(|| &f.args[0])
        }
        _ => None,
    }
}

pub(crate) fn is_zero(value: &ScalarValue) -> bool {
    ScalarValue::new_zero(&value.data_type()).is_ok_and(|zero| zero == *value)
}

/// Money never touches a float: any floating-point value inside a formula is an error.
fn reject_floats(expr: &Expr, schema: &DFSchema) -> std::result::Result<(), String> {
    let mut found = None;
    expr.apply(|e| {
        if let Ok(t) = e.get_type(schema)
            && t.is_floating()
        {
            found = Some(format!(
                "float arithmetic on money: `{e}` is {t}; use decimals (write 0.12, not a cast to double or a float function)"
            ));
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|e| e.to_string())?;
    found.map_or(Ok(()), Err)
}

/// Topological order of `n` nodes; on a cycle, the nodes on it (first repeated at the end).
fn dependency_order(n: usize, deps: impl Fn(usize) -> Vec<usize>) -> std::result::Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    #[allow(clippy::expect_used, reason = "open nodes are on the path")]
    fn visit(
        i: usize,
        deps: &dyn Fn(usize) -> Vec<usize>,
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> std::result::Result<(), Vec<usize>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Open => {
                let start = path.iter().position(|&p| p == i).expect("open nodes are on the path");
                let mut cycle = path[start..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Open;
        path.push(i);
        for d in deps(i) {
            visit(d, deps, marks, path, order)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        order.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; n];
    let mut order = Vec::with_capacity(n);
    for i in 0..n {
        visit(i, &deps, &mut marks, &mut Vec::new(), &mut order)?;
    }
    Ok(order)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn suggestion<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    known
        .map(|k| (strsim::levenshtein(name, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map_or(String::new(), |(_, k)| format!("; did you mean `{k}`?"))
}

fn default_label(name: &str) -> String {
    let mut label = name.replace('_', " ");
    if let Some(first) = label.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    label
}

fn dedup(names: Vec<&str>) -> Vec<String> {
    let mut seen = Vec::<String>::new();
    for n in names {
        if !seen.iter().any(|s| s == n) {
            seen.push(n.to_string());
        }
    }
    seen
}

/// DataFusion prefixes its messages with the error kind; HR needs only the message.
fn strip_prefix(message: &str) -> String {
    [
        "Error during planning: ",
        "Schema error: ",
        "SQL error: ",
        "Execution error: ",
    ]
    .iter()
    .fold(message, |m, p| m.strip_prefix(p).unwrap_or(m))
    .to_string()
}
