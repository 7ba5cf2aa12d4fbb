//! The syntax tree the parser builds: one [`File`] per source file, every node with its span.
//!
//! The tree is close to the text (nothing is resolved yet); the compiler
//! ([`crate::compile`]) checks names, flows and types and lowers it to a
//! [`Program`](crate::Program).

use std::time::Duration;

use crate::lexer::I128;
use crate::source::Span;

#[derive(Debug, Clone)]
pub(crate) struct Ident {
    pub(crate) name: String,
    pub(crate) span: Span,
}

/// A text with `{{ }}` holes: request targets, header values, bodies, strings.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub(crate) pieces: Vec<TPiece>,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum TPiece {
    Lit(String, Span),
    /// An expression and the span of its whole `{{ ... }}`.
    Expr(Expr, Span),
}

/// The expression language inside `{{ }}`.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    /// `token`, `users.email`, `ids[0]`, `env.HOST`.
    Path(PathExpr),
    Str(String, Span),
    Int(I128, Span),
    Float(f64, Span),
    Bool(bool, Span),
    Null(Span),
    List(Vec<Expr>, Span),
    Call {
        name: Ident,
        args: Vec<Expr>,
        span: Span,
    },
    /// `value ?? fallback`.
    Default {
        value: Box<Expr>,
        fallback: Box<Expr>,
        span: Span,
    },
}

impl Expr {
    pub(crate) fn span(&self) -> Span {
        match self {
            Expr::Path(p) => p.span,
            Expr::Str(_, s)
            | Expr::Int(_, s)
            | Expr::Float(_, s)
            | Expr::Bool(_, s)
            | Expr::Null(s)
            | Expr::List(_, s) => *s,
            Expr::Call { span, .. } | Expr::Default { span, .. } => *span,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PathExpr {
    pub(crate) root: Ident,
    pub(crate) segs: Vec<PathSeg>,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum PathSeg {
    Key(String),
    Index(i64),
}

/// A value written in statement position: `let` right-hand sides, predicate operands.
#[derive(Debug, Clone)]
pub(crate) enum ValueAst {
    Null(Span),
    Bool(bool, Span),
    Int(I128, Span),
    Float(f64, Span),
    /// A string literal, possibly with templates.
    Str(Template),
    List(Vec<ValueAst>, Span),
    Object(Vec<(String, Span, ValueAst)>, Span),
    Duration(Duration, Span),
    Percent(f64, Span),
    /// A bare `{{ expr }}` (keeps the expression's type).
    Expr(Expr, Span),
    /// A bare variable name (`in skus`).
    Var(PathExpr),
}

impl ValueAst {
    pub(crate) fn span(&self) -> Span {
        match self {
            ValueAst::Null(s)
            | ValueAst::Bool(_, s)
            | ValueAst::Int(_, s)
            | ValueAst::Float(_, s)
            | ValueAst::List(_, s)
            | ValueAst::Object(_, s)
            | ValueAst::Duration(_, s)
            | ValueAst::Percent(_, s)
            | ValueAst::Expr(_, s) => *s,
            ValueAst::Str(t) => t.span,
            ValueAst::Var(p) => p.span,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) items: Vec<Item>,
    /// Names that a statement which failed to parse would have set (`let u = users[%]`,
    /// the `capture` of a request whose line is wrong): that error is reported, and reads
    /// of these names are not reported again as undefined.
    pub(crate) broken_names: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) enum Item {
    Defaults(Defaults),
    Let(Let),
    Block(BlockItem),
    Scenario(Scenario),
    Threshold(ThresholdAst),
    Include(Include),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Setup,
    SetupWorker,
    TeardownWorker,
    Teardown,
}

impl BlockKind {
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            BlockKind::Setup => "setup",
            BlockKind::SetupWorker => "setup worker",
            BlockKind::TeardownWorker => "teardown worker",
            BlockKind::Teardown => "teardown",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct BlockItem {
    pub(crate) kind: BlockKind,
    pub(crate) body: Vec<Stmt>,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    pub(crate) base: Option<Template>,
    pub(crate) timeout: Option<(Duration, Span)>,
    pub(crate) headers: Vec<HeaderAst>,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Let {
    pub(crate) name: Ident,
    pub(crate) value: ValueAst,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) name: Ident,
    pub(crate) weight: Option<(i128, Span)>,
    pub(crate) delay: Option<(Duration, Span)>,
    pub(crate) body: Vec<Stmt>,
}

#[derive(Debug, Clone)]
pub(crate) struct ThresholdAst {
    pub(crate) scope: Option<Ident>,
    pub(crate) metric: Ident,
    pub(crate) cmp: CmpOp,
    pub(crate) value: ValueAst,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Include {
    pub(crate) path: String,
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct HeaderAst {
    pub(crate) name: String,
    pub(crate) name_span: Span,
    pub(crate) value: Template,
}

#[derive(Debug, Clone)]
pub(crate) enum Stmt {
    Request(Box<RequestAst>),
    Think {
        min: Duration,
        max: Duration,
    },
    Repeat {
        count: i64,
        body: Vec<Stmt>,
    },
    If {
        cond: PredAst,
        then: Vec<Stmt>,
        otherwise: Option<Vec<Stmt>>,
    },
    For {
        var: Ident,
        list: ValueAst,
        body: Vec<Stmt>,
        span: Span,
    },
    Header {
        header: HeaderAst,
        span: Span,
    },
    Let(Let),
    Log {
        message: Template,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct RequestAst {
    pub(crate) method: http::Method,
    pub(crate) target: Template,
    pub(crate) name: Option<Ident>,
    pub(crate) headers: Vec<HeaderAst>,
    pub(crate) body: Option<BodyAst>,
    pub(crate) clauses: Vec<Clause>,
    /// The request line.
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum BodyAst {
    /// A JSON body: its pieces (templates know whether they sit in a string) and its span.
    Json(Vec<JsonPiece>),
    Raw(Template),
    Form(Vec<FormField>),
    File(String, Span),
}

#[derive(Debug, Clone)]
pub(crate) enum JsonPiece {
    Lit(String),
    Expr {
        expr: Expr,
        in_string: bool,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct FormField {
    pub(crate) name: Template,
    pub(crate) value: Template,
}

#[derive(Debug, Clone)]
pub(crate) enum Clause {
    Check(PredAst),
    Assert(PredAst),
    Capture {
        name: Ident,
        optional: bool,
        query: QueryAst,
        count: bool,
        span: Span,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct PredAst {
    pub(crate) query: QueryAst,
    pub(crate) count: bool,
    pub(crate) negate: bool,
    pub(crate) op: OpAst,
    /// Span of the whole predicate (its text is the check's display text).
    pub(crate) span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum QueryAst {
    Status(Span),
    Duration(Span),
    Body(Span),
    Header(String, Span),
    JsonPath(String, Span),
    Regex(String, Span),
    Var(PathExpr),
}

impl QueryAst {
    pub(crate) fn span(&self) -> Span {
        match self {
            QueryAst::Status(s)
            | QueryAst::Duration(s)
            | QueryAst::Body(s)
            | QueryAst::Header(_, s)
            | QueryAst::JsonPath(_, s)
            | QueryAst::Regex(_, s) => *s,
            QueryAst::Var(p) => p.span,
        }
    }

    pub(crate) fn needs_response(&self) -> bool {
        !matches!(self, QueryAst::Var(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether `left CMP right` holds (a threshold: the observed value, then the limit, in
    /// the same unit).
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CmpOp::Eq => left == right,
            CmpOp::Ne => left != right,
            CmpOp::Lt => left < right,
            CmpOp::Le => left <= right,
            CmpOp::Gt => left > right,
            CmpOp::Ge => left >= right,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum OpAst {
    Cmp(CmpOp, ValueAst),
    In(ValueAst),
    Contains(ValueAst),
    StartsWith(ValueAst),
    EndsWith(ValueAst),
    Matches(String, Span),
    Exists,
}

#[cfg(test)]
mod tests {
    use super::CmpOp;

    #[test]
    fn each_comparison_holds_as_written() {
        // (op, 1 vs 2, 2 vs 2, 3 vs 2)
        let table = [
            (CmpOp::Eq, [false, true, false]),
            (CmpOp::Ne, [true, false, true]),
            (CmpOp::Lt, [true, false, false]),
            (CmpOp::Le, [true, true, false]),
            (CmpOp::Gt, [false, false, true]),
            (CmpOp::Ge, [false, true, true]),
        ];
        for (op, want) in table {
            let got = [1.0, 2.0, 3.0].map(|left| op.holds(left, 2.0));
            assert_eq!(got, want, "{}", op.symbol());
        }
    }
}
