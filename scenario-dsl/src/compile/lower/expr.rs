//! Lowering expressions (`{{ }}` contents: variables, literals, built-ins, `??`) and
//! templates, with constant folding and the escaping of each hole.

use super::*;
use std::env::VarError;

impl Compiler<'_> {
    /// A decimal number written in the plan, spelled as written (`2.50` stays `2.50`, as a
    /// number read from a response keeps its digits); `None` when it is not finite.
    fn plan_number(&self, value: f64, span: Span) -> Option<serde_json::Number> {
        if !value.is_finite() {
            return None;
        }
        self.text(span)
            .parse()
            .ok()
            .or_else(|| serde_json::Number::from_f64(value))
    }

    /// `env.QTY ?? 2`: the variable's text `text` read as a number, as its default is; a
    /// compile error when it is not one. Out of line: `lower_expr` recurses once per level
    /// of nesting, and its frame must stay small (a 1 MiB stack holds the deepest plan).
    #[inline(never)]
    fn env_as_number(
        &mut self,
        path: Span,
        text: &str,
        fallback: Span,
    ) -> Option<(ExprCode, Variability)> {
        if let Some(n) = env_number(text) {
            return Some((ExprCode::Const(Value::Number(n)), Variability::Constant));
        }
        let name = self.text(path).to_string();
        let default = self.text(fallback).to_string();
        self.err(
            RawDiag::error(path, format!("`{name}` is `{text}`, not a number"))
                .label(format!("read as a number, as its default `{default}` is"))
                .help(format!(
                    "set it to a number (like `{default}`), or quote the default \
                     (`{name} ?? \"{default}\"`) to take the text as it is"
                )),
        );
        None
    }

    // ----- expressions -------------------------------------------------------------------

    pub(super) fn lower_expr(
        &mut self,
        e: &Expr,
        scope: &Scope,
        flow: &Flow,
        guarded: bool,
    ) -> Option<(ExprCode, Variability)> {
        use Variability::*;
        Some(match e {
            Expr::Str(s, _) => (ExprCode::Const(Value::String(s.clone())), Constant),
            Expr::Int(n, _) => (ExprCode::Const(Value::from(n.get())), Constant),
            Expr::Float(f, span) => match self.plan_number(*f, *span) {
                Some(n) => (ExprCode::Const(Value::Number(n)), Constant),
                None => {
                    self.err(RawDiag::error(*span, "invalid number").label("not a finite number"));
                    return None;
                }
            },
            Expr::Bool(b, _) => (ExprCode::Const(Value::Bool(*b)), Constant),
            Expr::Null(_) => (ExprCode::Const(Value::Null), Constant),
            Expr::List(items, _) => {
                let mut codes = Vec::new();
                let mut var = Constant;
                let mut ok = true;
                for item in items {
                    match self.lower_expr(item, scope, flow, false) {
                        Some((c, v)) => {
                            var = var.max(v);
                            codes.push(c);
                        }
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                if codes.iter().all(|c| matches!(c, ExprCode::Const(_))) {
                    let values = codes
                        .into_iter()
                        .map(|c| match c {
                            ExprCode::Const(v) => v,
                            _ => Value::Null,
                        })
                        .collect();
                    (ExprCode::Const(Value::Array(values)), Constant)
                } else {
                    (ExprCode::List(codes.into()), var)
                }
            }
            Expr::Path(p) => self.lower_path(p, scope, flow, guarded)?,
            Expr::Call { name, args, span } => {
                self.lower_call(name, args, *span, scope, flow, guarded)?
            }
            Expr::Default {
                value, fallback, ..
            } => {
                let v = self.lower_expr(value, scope, flow, true);
                let f = self.lower_expr(fallback, scope, flow, guarded);
                let (v, f) = (v?, f?);
                // `env.QTY ?? 2`: a number as the default reads the variable as a number,
                // so that the value's type does not depend on whether it is set.
                if let (Expr::Path(p), ExprCode::Const(Value::String(text))) = (&**value, &v.0)
                    && p.root.name == "env"
                    && let ExprCode::Const(Value::Number(_)) = f.0
                {
                    return self.env_as_number(p.span, text, fallback.span());
                }
                match v.0 {
                    ExprCode::Const(_) => v,
                    ExprCode::Undefined(_) => f,
                    code => (
                        ExprCode::Default(Box::new(code), Box::new(f.0)),
                        v.1.max(f.1),
                    ),
                }
            }
        })
    }

    pub(super) fn lower_path(
        &mut self,
        p: &PathExpr,
        scope: &Scope,
        flow: &Flow,
        guarded: bool,
    ) -> Option<(ExprCode, Variability)> {
        let name = p.root.name.as_str();
        let steps: Vec<PathStep> = p
            .segs
            .iter()
            .map(|s| match s {
                PathSeg::Key(k) => PathStep::Key(k.as_str().into()),
                PathSeg::Index(i) => PathStep::Index(*i),
            })
            .collect();
        match name {
            "env" => {
                let key = match p.segs.as_slice() {
                    [PathSeg::Key(k)] => k,
                    _ => {
                        self.err(
                            RawDiag::error(p.span, "expected `env.NAME`")
                                .label("an environment variable is `env.` followed by its name"),
                        );
                        return None;
                    }
                };
                match self.env(key) {
                    Ok(v) => Some((ExprCode::Const(Value::String(v)), Variability::Constant)),
                    Err(VarError::NotUnicode(_)) => {
                        self.err(
                            RawDiag::error(
                                p.span,
                                format!("environment variable `{key}` is not valid UTF-8"),
                            )
                            .label("set, but its value is not UTF-8")
                            .help(format!(
                                "give `{key}` a UTF-8 value (a `??` default is for a variable that is unset)"
                            )),
                        );
                        None
                    }
                    Err(VarError::NotPresent) if guarded => Some((
                        ExprCode::Undefined(format!("env.{key}").into()),
                        Variability::Constant,
                    )),
                    Err(VarError::NotPresent) => {
                        self.err(
                            RawDiag::error(
                                p.span,
                                format!("environment variable `{key}` is not set"),
                            )
                            .label("not set")
                            .help(format!(
                                "set it, or give a default: `{{{{env.{key} ?? \"...\"}}}}`"
                            )),
                        );
                        None
                    }
                }
            }
            "worker" | "process" | "iter" => {
                if scope.mode == Mode::Constant {
                    self.err(
                        RawDiag::error(p.span, format!("`{name}` cannot be used here"))
                            .label("only known while the plan runs")
                            .help("top-level values are computed once, before the run"),
                    );
                    return None;
                }
                if !p.segs.is_empty() {
                    self.err(
                        RawDiag::error(p.span, format!("`{name}` is a number and has no fields"))
                            .label("remove the `.field` / `[index]`"),
                    );
                    return None;
                }
                Some(match name {
                    "worker" => (ExprCode::Worker, Variability::PerWorker),
                    "process" => (ExprCode::Process, Variability::PerWorker),
                    _ => (ExprCode::Iter, Variability::Dynamic),
                })
            }
            _ => match self.resolve(name, scope) {
                Resolved::Const(v) => match walk(&v, &steps) {
                    Some(inner) => Some((ExprCode::Const(inner.clone()), Variability::Constant)),
                    None if guarded => Some((
                        ExprCode::Undefined(self.text(p.span).into()),
                        Variability::Constant,
                    )),
                    None => {
                        self.err(
                            RawDiag::error(
                                p.span,
                                format!("`{}` does not exist", self.text(p.span)),
                            )
                            .label(format!("the constant `{name}` has no such field or index")),
                        );
                        None
                    }
                },
                Resolved::Slot(slot) => {
                    self.check_use(slot, name, p.root.span, flow, guarded);
                    let var = if (slot as usize) < self.globals.len() {
                        Variability::PerWorker
                    } else {
                        Variability::Dynamic
                    };
                    Some((
                        ExprCode::Var {
                            slot,
                            path: steps.into(),
                            name: name.into(),
                        },
                        var,
                    ))
                }
                Resolved::Missing => {
                    if !self.poisoned.iter().any(|n| n == name) {
                        self.undefined(name, p.root.span, scope);
                    }
                    None
                }
            },
        }
    }

    /// A call of a built-in function. `guarded`: on the left of `??`, where `pick` of a
    /// constant empty list is no error but the fallback.
    pub(super) fn lower_call(
        &mut self,
        name: &ast::Ident,
        args: &[Expr],
        span: Span,
        scope: &Scope,
        flow: &Flow,
        guarded: bool,
    ) -> Option<(ExprCode, Variability)> {
        let f = name.name.as_str();
        if !FUNCTIONS.contains(&f) {
            let mut d = RawDiag::error(name.span, format!("unknown function `{f}`"));
            d = match did_you_mean(f, FUNCTIONS.iter().copied()) {
                Some(s) => d.label(format!("did you mean `{s}`?")),
                None => d.label("not a built-in").help(
                    "built-ins are uuid(), rand_int(a, b), rand_str(n), pick(list), now_ms()",
                ),
            };
            self.err(d);
            return None;
        }
        if scope.mode == Mode::Constant {
            self.err(
                RawDiag::error(span, format!("`{f}()` cannot be used here"))
                    .label("only known while the plan runs")
                    .help("top-level values are computed once, before the run; call it in a request instead"),
            );
            return None;
        }
        let arity = match f {
            "uuid" | "now_ms" => 0,
            "rand_int" => 2,
            _ => 1,
        };
        if args.len() != arity {
            let usage = match f {
                "uuid" => "uuid()",
                "now_ms" => "now_ms()",
                "rand_int" => "rand_int(min, max)",
                "rand_str" => "rand_str(length)",
                _ => "pick(list)",
            };
            self.err(
                RawDiag::error(
                    span,
                    format!(
                        "`{f}` takes {arity} argument{}, got {}",
                        if arity == 1 { "" } else { "s" },
                        args.len()
                    ),
                )
                .label(format!("write `{usage}`")),
            );
            return None;
        }
        let mut codes = Vec::new();
        for a in args {
            codes.push(self.lower_expr(a, scope, flow, false)?.0);
        }
        let const_int = |c: &ExprCode| match c {
            ExprCode::Const(v) => Some(Evaluated::Ref(v).as_i64("")),
            _ => None,
        };
        match f {
            "rand_int" => {
                let (a, b) = (const_int(&codes[0]), const_int(&codes[1]));
                for (code, arg) in codes.iter().zip(args) {
                    if let ExprCode::Const(v) = code
                        && const_int(code) == Some(None)
                    {
                        let got = Evaluated::Ref(v).describe_non_integer("");
                        self.err(
                            RawDiag::error(arg.span(), "`rand_int` needs integers")
                                .label(format!("got {got}"))
                                .help("an integer of at most 64 bits: `3`, or text that is one, `\"3\"`"),
                        );
                        return None;
                    }
                }
                if let (Some(Some(a)), Some(Some(b))) = (a, b)
                    && a > b
                {
                    self.err(
                        RawDiag::error(
                            span,
                            format!("`rand_int({a}, {b})` has its bounds reversed"),
                        )
                        .label("the first bound must not be larger than the second"),
                    );
                    return None;
                }
            }
            "rand_str" => match const_int(&codes[0]) {
                Some(Some(n)) if (0..=MAX_RAND_STR).contains(&n) => {}
                Some(_) => {
                    self.err(
                        RawDiag::error(
                            args[0].span(),
                            "`rand_str` needs a length between 0 and 1048576",
                        )
                        .label("invalid length"),
                    );
                    return None;
                }
                None => {}
            },
            "pick" => match &codes[0] {
                // Nothing to pick: as a missing item, the `??` fallback.
                ExprCode::Const(Value::Array(a)) if a.is_empty() && guarded => {
                    return Some((
                        ExprCode::Undefined("pick() of an empty list".into()),
                        Variability::Constant,
                    ));
                }
                ExprCode::Const(Value::Array(a)) if a.is_empty() => {
                    self.err(
                        RawDiag::error(args[0].span(), "`pick` of an empty list")
                            .label("nothing to pick"),
                    );
                    return None;
                }
                ExprCode::Const(Value::Array(_))
                | ExprCode::Var { .. }
                | ExprCode::List(_)
                | ExprCode::Default(..) => {}
                _ => {
                    self.err(
                        RawDiag::error(args[0].span(), "`pick` needs a list").label("not a list"),
                    );
                    return None;
                }
            },
            _ => {}
        }
        let mut it = codes.into_iter();
        let mut next = || Box::new(it.next().unwrap_or(ExprCode::Const(Value::Null)));
        let code = match f {
            "uuid" => ExprCode::Uuid,
            "now_ms" => ExprCode::NowMs,
            "rand_int" => {
                let (a, b) = (next(), next());
                match (const_int(&a), const_int(&b)) {
                    (Some(Some(lo)), Some(Some(hi))) => ExprCode::RandRange(lo, hi),
                    _ => ExprCode::RandInt(a, b),
                }
            }
            "rand_str" => ExprCode::RandStr(next()),
            _ => ExprCode::Pick(next()),
        };
        Some((code, Variability::Dynamic))
    }

    // ----- templates ---------------------------------------------------------------------

    pub(super) fn lower_pieces(
        &mut self,
        pieces: Vec<LPiece<'_>>,
        scope: &Scope,
        flow: &Flow,
    ) -> Option<(TemplateCode, Variability)> {
        let mut out = Vec::new();
        let mut lit = Vec::new();
        let mut var = Variability::Constant;
        let mut ok = true;
        for p in pieces {
            match p {
                LPiece::Lit(bytes) => lit.extend_from_slice(&bytes),
                LPiece::Expr(e, esc, span) => match self.lower_expr(e, scope, flow, false) {
                    None => ok = false,
                    // A path-or-query hole after a hole known only at run time: decided
                    // then, with the text before it.
                    Some((ExprCode::Const(v), _))
                        if matches!(esc, Escape::UrlStartOrQuery | Escape::PathOrQuery)
                            && !out.is_empty() =>
                    {
                        if !lit.is_empty() {
                            out.push(Piece::Lit(std::mem::take(&mut lit).into()));
                        }
                        out.push(Piece::Expr(ExprCode::Const(v), esc));
                    }
                    Some((ExprCode::Const(v), _)) => {
                        // Everything before it is known: `lit` holds it all.
                        let esc = resolve_escape(esc, &lit);
                        match write_value(&mut lit, &Evaluated::Ref(&v), "", esc) {
                            Err(RenderError::HeaderControl(b'\r' | b'\n' | 0)) => {
                                self.err(
                                    RawDiag::error(
                                        span,
                                        "a header value cannot contain a line break",
                                    )
                                    .label("this value has CR, LF or NUL")
                                    .help("header values are one line"),
                                );
                                ok = false;
                            }
                            Err(RenderError::HeaderControl(b)) => {
                                self.err(
                                    RawDiag::error(
                                        span,
                                        "a header value cannot contain a control character",
                                    )
                                    .label(format!("this value has {}", control_name(b)))
                                    .help(
                                        "tab is the only control character a header value may \
                                         hold (RFC 9110, section 5.5)",
                                    ),
                                );
                                ok = false;
                            }
                            _ => {}
                        }
                    }
                    Some((code, v)) => {
                        if !lit.is_empty() {
                            out.push(Piece::Lit(std::mem::take(&mut lit).into()));
                        }
                        out.push(Piece::Expr(code, esc));
                        var = var.max(v);
                    }
                },
            }
        }
        if !lit.is_empty() {
            out.push(Piece::Lit(lit.into()));
        }
        ok.then(|| (TemplateCode { pieces: out.into() }, var))
    }

    /// A template that must be constant, as text (`base`).
    pub(crate) fn lower_text(
        &mut self,
        t: &Template,
        scope: &Scope,
        flow: &mut Flow,
    ) -> Option<String> {
        let (code, _) = self.lower_pieces(simple_pieces(t, Escape::Raw), scope, flow)?;
        match code.constant() {
            Some(b) => Some(String::from_utf8_lossy(b).into_owned()),
            None => {
                self.err(
                    RawDiag::error(t.span, "this value must be known before the run")
                        .label("depends on the run")
                        .help("use literals, `env.NAME` and top-level constants here"),
                );
                None
            }
        }
    }

    pub(crate) fn lower_header_value(
        &mut self,
        t: &Template,
        scope: &Scope,
        flow: &mut Flow,
    ) -> Option<(TemplateCode, Variability)> {
        self.lower_pieces(simple_pieces(t, Escape::Header), scope, flow)
    }

    /// The right-hand side of `let` (block or top level).
    pub(crate) fn lower_set_value(
        &mut self,
        v: &ValueAst,
        scope: &Scope,
        flow: &mut Flow,
    ) -> Option<SetCode> {
        match self.lower_operand(v, scope, flow, false)? {
            Operand::Const(v) => Some(SetCode::Const(v)),
            Operand::Expr(e) | Operand::TextNumber(e) => Some(SetCode::Expr(e)),
            Operand::Text(t) => Some(SetCode::Text(t)),
            Operand::Duration(_) => {
                self.err(
                    RawDiag::error(v.span(), "a duration is not a value")
                        .label(
                            "durations are for `think`, `delay`, `timeout` and `duration` checks",
                        )
                        .help("write a number of milliseconds instead"),
                );
                None
            }
            Operand::List(_) => {
                self.err(
                    RawDiag::error(v.span(), "a list in `let` must be made of constants")
                        .label("has a variable part")
                        .help("build it from literals and top-level constants"),
                );
                None
            }
        }
    }

    /// A value in statement position (predicate operand, `let` value).
    pub(super) fn lower_operand(
        &mut self,
        v: &ValueAst,
        scope: &Scope,
        flow: &Flow,
        guarded: bool,
    ) -> Option<Operand> {
        Some(match v {
            ValueAst::Null(_) => Operand::Const(Value::Null),
            ValueAst::Bool(b, _) => Operand::Const(Value::Bool(*b)),
            ValueAst::Int(n, _) => Operand::Const(Value::from(n.get())),
            ValueAst::Float(f, span) => match self.plan_number(*f, *span) {
                Some(n) => Operand::Const(Value::Number(n)),
                None => {
                    self.err(RawDiag::error(*span, "invalid number").label("not a finite number"));
                    return None;
                }
            },
            ValueAst::Duration(d, _) => Operand::Duration(*d),
            ValueAst::Percent(_, span) => {
                self.err(
                    RawDiag::error(*span, "a percentage is only valid in a threshold")
                        .label("unexpected `%`"),
                );
                return None;
            }
            ValueAst::Str(t) => {
                let (code, _) = self.lower_pieces(simple_pieces(t, Escape::Raw), scope, flow)?;
                match code.constant() {
                    Some(b) => {
                        Operand::Const(Value::String(String::from_utf8_lossy(b).into_owned()))
                    }
                    None => Operand::Text(code),
                }
            }
            ValueAst::List(items, _) => {
                let mut ops = Vec::new();
                for item in items {
                    ops.push(self.lower_operand(item, scope, flow, false)?);
                }
                if ops.iter().all(|o| matches!(o, Operand::Const(_))) {
                    Operand::Const(Value::Array(
                        ops.into_iter()
                            .map(|o| match o {
                                Operand::Const(v) => v,
                                _ => Value::Null,
                            })
                            .collect(),
                    ))
                } else {
                    Operand::List(ops.into())
                }
            }
            ValueAst::Object(fields, span) => {
                let mut map = serde_json::Map::new();
                for (k, _, fv) in fields {
                    match self.lower_operand(fv, scope, flow, false)? {
                        Operand::Const(v) => {
                            map.insert(k.clone(), v);
                        }
                        _ => {
                            self.err(
                                RawDiag::error(*span, "an object value must be made of constants")
                                    .label("has a variable part"),
                            );
                            return None;
                        }
                    }
                }
                Operand::Const(Value::Object(map))
            }
            ValueAst::Expr(e, _) => match self.lower_expr(e, scope, flow, guarded)?.0 {
                ExprCode::Const(v) => Operand::Const(v),
                code => Operand::Expr(code),
            },
            ValueAst::Var(p) => match self.lower_path(p, scope, flow, guarded)?.0 {
                ExprCode::Const(v) => Operand::Const(v),
                code => Operand::Expr(code),
            },
        })
    }

    pub(super) fn lower_list(
        &mut self,
        v: &ValueAst,
        scope: &Scope,
        flow: &Flow,
    ) -> Option<ExprCode> {
        match self.lower_operand(v, scope, flow, false)? {
            Operand::Const(Value::Array(a)) => Some(ExprCode::Const(Value::Array(a))),
            Operand::Expr(e) => Some(e),
            Operand::List(_) => {
                self.err(
                    RawDiag::error(
                        v.span(),
                        "a `for` list must be made of constants or be a variable",
                    )
                    .label("has a variable part"),
                );
                None
            }
            _ => {
                self.err(
                    RawDiag::error(v.span(), "`for` needs a list")
                        .label("not a list")
                        .help(
                            "write `for x in [1, 2, 3] {` or `for x in ids {` with a list variable",
                        ),
                );
                None
            }
        }
    }
}

/// The number an environment variable's text spells, as JSON writes numbers (`2`, `-3`,
/// `2.50`, `1e3`), keeping its spelling as a number written in the plan does; `None` for
/// anything else (` 2`, `02`, `+2`, `abc`, `1e400`).
fn env_number(text: &str) -> Option<serde_json::Number> {
    let n: serde_json::Number = text.parse().ok()?;
    n.as_f64().is_some_and(f64::is_finite).then_some(n)
}
