//! Values in statement position (`let` values, predicate operands), variable paths and
//! the expression language inside `{{ }}`.

use super::*;

impl Parser<'_, '_> {
    // ----- values and expressions --------------------------------------------------------

    pub(super) fn ident(&mut self, c: &mut Cursor, what: &str) -> Option<Ident> {
        match c.next() {
            Some(t) if t.is(&Tok::Ident) => Some(Ident {
                name: self.text(t.span).to_string(),
                span: t.span,
            }),
            Some(t) => {
                self.unexpected(&t, what);
                None
            }
            None => {
                self.expected_at_end(c, what);
                None
            }
        }
    }

    /// A name being defined (a scenario, a variable, an `as` name). Text glued into one word
    /// that is not a name (`1abc`, `a.b`, `é`) is one error that says what a name is.
    pub(super) fn name(&mut self, c: &mut Cursor, what: &str) -> Option<Ident> {
        let first = c.peek()?.clone();
        let name_like = |t: &Tok| {
            matches!(
                t,
                Tok::Ident
                    | Tok::Int(_)
                    | Tok::Float(_)
                    | Tok::Duration(_)
                    | Tok::Percent(_)
                    | Tok::Dot
                    | Tok::DotDot
                    | Tok::Error(..)
            )
        };
        if !name_like(&first.tok)
            || matches!(&first.tok, Tok::Error(m, _) if m.starts_with("unclosed"))
        {
            return self.ident(c, what);
        }
        let mut n = 1;
        let mut span = first.span;
        while let Some(t) = c.peek_at(n) {
            if t.span.start != span.end || !name_like(&t.tok) {
                break;
            }
            span = span.to(t.span);
            n += 1;
        }
        if n == 1 && first.is(&Tok::Ident) {
            return self.ident(c, what);
        }
        for _ in 0..n {
            c.next();
        }
        let text = self.text(span);
        self.err(
            RawDiag::error(span, format!("invalid name `{text}`"))
                .label(format!("expected {what}"))
                .help(
                    "a name is ASCII letters, digits, `_` and `-`, starting with a letter or `_`: \
                     `browse`, `cart_id`, `get-home`",
                ),
        );
        None
    }

    /// `name`, `a.b`, `a[0]`.
    pub(super) fn path(&mut self, c: &mut Cursor) -> Option<PathExpr> {
        let root = self.ident(c, "a name")?;
        let mut span = root.span;
        let mut segs = Vec::new();
        loop {
            if c.eat(&Tok::Dot).is_some() {
                let k = self.ident(c, "a field name after `.`")?;
                span = span.to(k.span);
                segs.push(PathSeg::Key(k.name));
            } else if c.peek().is_some_and(|t| t.is(&Tok::LBracket))
                && c.peek().map(|t| t.span.start) == Some(span.end)
            {
                c.next();
                match c.next() {
                    Some(Token {
                        tok: Tok::Int(n),
                        span: at,
                    }) => {
                        let Ok(n) = i64::try_from(n.get()) else {
                            self.err(
                                RawDiag::error(at, "index out of range")
                                    .label("an index is at most 64 bits"),
                            );
                            return None;
                        };
                        let close = c.eat(&Tok::RBracket);
                        let Some(close) = close else {
                            let here = c.here();
                            self.err(
                                RawDiag::error(here, "expected `]`")
                                    .label("expected `]` after the index"),
                            );
                            return None;
                        };
                        span = span.to(close);
                        segs.push(PathSeg::Index(n));
                    }
                    Some(t) if t.is(&Tok::Str) => {
                        let key = self.plain_str(t.span)?;
                        let Some(close) = c.eat(&Tok::RBracket) else {
                            let here = c.here();
                            self.err(
                                RawDiag::error(here, "expected `]`")
                                    .label("expected `]` after the key"),
                            );
                            return None;
                        };
                        span = span.to(close);
                        segs.push(PathSeg::Key(key));
                    }
                    Some(t)
                        if t.is(&Tok::RBracket)
                            || matches!(&t.tok, Tok::Error(m, _) if m.starts_with("unclosed")) =>
                    {
                        self.unexpected(&t, "an index like `[0]`");
                        return None;
                    }
                    Some(t) => {
                        self.computed_index(c, &root, t.span);
                        return None;
                    }
                    None => {
                        self.expected_at_end(c, "an index like `[0]`");
                        return None;
                    }
                }
            } else {
                break;
            }
        }
        Some(PathExpr { root, segs, span })
    }

    /// Reports an index that is not a number or a quoted key (`users[worker]`,
    /// `users[worker % 2]`): `first` is the span of its first token. The cursor moves past
    /// the index's `]`.
    fn computed_index(&mut self, c: &mut Cursor, root: &Ident, first: Span) {
        let mut inside = first;
        let mut depth = 0usize;
        let mut single_ident = self
            .text(first)
            .starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_');
        while let Some(t) = c.peek() {
            match t.tok {
                Tok::RBracket if depth == 0 => {
                    c.next();
                    break;
                }
                Tok::LBracket | Tok::LParen => depth += 1,
                Tok::RBracket | Tok::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
            inside = inside.to(t.span);
            single_ident = false;
            c.next();
        }
        let text = self.text(inside);
        let label = if single_ident {
            format!("`{text}` is a variable, not a number")
        } else {
            "not an integer or a quoted key".to_string()
        };
        let name = &root.name;
        self.err(
            RawDiag::error(inside, "an index must be a number written out")
                .label(label)
                .help(format!(
                    "an index is a number (`{name}[0]`, `{name}[-1]` for the last item) or a \
                     quoted key (`{name}[\"id\"]`): there is no arithmetic and no computed \
                     index in a plan; `pick({name})` gives a random item"
                )),
        );
    }

    /// After an item of the list or object that `open` opens, not followed by `,`: the span
    /// of its `close` (`]` or `}`), or `None` when something else stands there or the line
    /// ends (reported).
    fn close_after_item(&mut self, c: &mut Cursor, open: Span, close: Tok) -> Option<Span> {
        if let Some(span) = c.eat(&close) {
            return Some(span);
        }
        match c.peek().cloned() {
            Some(n) if close == Tok::RBracket => self.unexpected(&n, "`,` or `]`"),
            Some(n) => self.unexpected(&n, "`,` or `}`"),
            None => self.unclosed_value(open, &close),
        }
        None
    }

    /// Reports that the list (`close` is `]`) or object (`}`) opened at `open` is never
    /// closed.
    fn unclosed_value(&mut self, open: Span, close: &Tok) {
        let (what, opener) = if *close == Tok::RBracket {
            ("list", "[")
        } else {
            ("object", "{")
        };
        self.err(
            RawDiag::error(open, format!("unclosed {what}"))
                .label(format!("this `{opener}` is never closed")),
        );
    }

    /// A value in statement position.
    pub(super) fn value(&mut self, c: &mut Cursor) -> Option<ValueAst> {
        self.one_level_deeper(c, Self::value_at_depth)
    }

    fn value_at_depth(&mut self, c: &mut Cursor) -> Option<ValueAst> {
        let Some(t) = c.peek().cloned() else {
            self.expected_at_end(c, "a value");
            return None;
        };
        Some(match t.tok {
            Tok::Str => {
                c.next();
                ValueAst::Str(self.string_template(t.span)?)
            }
            Tok::Int(n) => {
                c.next();
                ValueAst::Int(n, t.span)
            }
            Tok::Float(f) => {
                c.next();
                ValueAst::Float(f, t.span)
            }
            Tok::Duration(d) => {
                c.next();
                ValueAst::Duration(d, t.span)
            }
            Tok::Percent(p) => {
                c.next();
                ValueAst::Percent(p, t.span)
            }
            Tok::Template => {
                c.next();
                let inner = Span::new(
                    self.file,
                    t.span.start as usize + 2,
                    t.span.end as usize - 2,
                );
                ValueAst::Expr(parse_template_expr(self.src(), inner, self.diags)?, t.span)
            }
            Tok::Ident => match self.text(t.span) {
                "true" | "false" => {
                    c.next();
                    ValueAst::Bool(self.text(t.span) == "true", t.span)
                }
                "null" => {
                    c.next();
                    ValueAst::Null(t.span)
                }
                // A call, `let id = uuid()`: the same as `{{uuid()}}`.
                _ if c.peek_at(1).is_some_and(|n| n.is(&Tok::LParen)) => {
                    let expr = self.expr(c)?;
                    let span = expr.span();
                    ValueAst::Expr(expr, span)
                }
                // A default, `let c = env.X ?? 5`: the same as `{{env.X ?? 5}}`.
                _ => {
                    let start = c.i;
                    let path = self.path(c)?;
                    if c.peek().is_some_and(|n| n.is(&Tok::QQ)) {
                        c.i = start;
                        let expr = self.expr(c)?;
                        let span = expr.span();
                        ValueAst::Expr(expr, span)
                    } else {
                        ValueAst::Var(path)
                    }
                }
            },
            Tok::LBracket => {
                c.next();
                let mut items = Vec::new();
                loop {
                    if let Some(close) = c.eat(&Tok::RBracket) {
                        return Some(ValueAst::List(items, t.span.to(close)));
                    }
                    items.push(self.value(c)?);
                    if c.eat(&Tok::Comma).is_none() {
                        let close = self.close_after_item(c, t.span, Tok::RBracket)?;
                        return Some(ValueAst::List(items, t.span.to(close)));
                    }
                }
            }
            Tok::LBrace => {
                c.next();
                let mut fields = Vec::new();
                loop {
                    if let Some(close) = c.eat(&Tok::RBrace) {
                        return Some(ValueAst::Object(fields, t.span.to(close)));
                    }
                    let (key, kspan) = match c.next() {
                        Some(k) if k.is(&Tok::Str) => (self.plain_str(k.span)?, k.span),
                        Some(k) if k.is(&Tok::Ident) => (self.text(k.span).to_string(), k.span),
                        Some(k) => {
                            self.unexpected(&k, "a field name");
                            return None;
                        }
                        None => {
                            self.unclosed_value(t.span, &Tok::RBrace);
                            return None;
                        }
                    };
                    if c.eat(&Tok::Colon).is_none() {
                        let here = c.here();
                        self.err(
                            RawDiag::error(here, "expected `:`")
                                .label("expected `:` after the field name"),
                        );
                        return None;
                    }
                    let v = self.value(c)?;
                    fields.push((key, kspan, v));
                    if c.eat(&Tok::Comma).is_none() {
                        let close = self.close_after_item(c, t.span, Tok::RBrace)?;
                        return Some(ValueAst::Object(fields, t.span.to(close)));
                    }
                }
            }
            _ => {
                // `status === 200`: `==` then a glued `=`.
                let triple = t.is(&Tok::Eq)
                    && c.i > 0
                    && c.toks[c.i - 1].is(&Tok::EqEq)
                    && c.toks[c.i - 1].span.end == t.span.start;
                c.next();
                if triple {
                    let eqs = c.toks[c.i - 2].span.to(t.span);
                    let fixed = self.line_with(c, eqs, "==");
                    self.unexpected_help(
                        &t,
                        "a value",
                        format!("there is no `===`: write `{fixed}`"),
                    );
                } else {
                    self.unexpected(&t, "a value");
                }
                return None;
            }
        })
    }

    pub(super) fn expr(&mut self, c: &mut Cursor) -> Option<Expr> {
        self.one_level_deeper(c, Self::expr_at_depth)
    }

    /// Parses with `parse` one nesting level deeper (none when the plan is too deep).
    fn one_level_deeper<T>(
        &mut self,
        c: &mut Cursor,
        parse: impl FnOnce(&mut Self, &mut Cursor) -> Option<T>,
    ) -> Option<T> {
        let at = c.peek().map_or(c.end, |t| t.span);
        if !self.enter(at) {
            return None;
        }
        let parsed = parse(self, c);
        self.leave();
        parsed
    }

    fn expr_at_depth(&mut self, c: &mut Cursor) -> Option<Expr> {
        let value = self.primary(c)?;
        if c.eat(&Tok::QQ).is_some() {
            let fallback = self.expr(c)?;
            let span = value.span().to(fallback.span());
            return Some(Expr::Default {
                value: Box::new(value),
                fallback: Box::new(fallback),
                span,
            });
        }
        Some(value)
    }

    pub(super) fn primary(&mut self, c: &mut Cursor) -> Option<Expr> {
        let Some(t) = c.peek().cloned() else {
            self.expected_at_end(c, "an expression");
            return None;
        };
        Some(match t.tok {
            Tok::Str => {
                c.next();
                Expr::Str(self.plain_str(t.span)?, t.span)
            }
            Tok::Int(n) => {
                c.next();
                Expr::Int(n, t.span)
            }
            Tok::Float(f) => {
                c.next();
                Expr::Float(f, t.span)
            }
            Tok::LBracket => {
                c.next();
                let mut items = Vec::new();
                loop {
                    if let Some(close) = c.eat(&Tok::RBracket) {
                        return Some(Expr::List(items, t.span.to(close)));
                    }
                    items.push(self.expr(c)?);
                    if c.eat(&Tok::Comma).is_none() {
                        let close = self.close_after_item(c, t.span, Tok::RBracket)?;
                        return Some(Expr::List(items, t.span.to(close)));
                    }
                }
            }
            Tok::Ident => {
                let word = self.text(t.span);
                match word {
                    "true" | "false" => {
                        c.next();
                        Expr::Bool(word == "true", t.span)
                    }
                    "null" => {
                        c.next();
                        Expr::Null(t.span)
                    }
                    _ if c.peek_at(1).is_some_and(|n| n.is(&Tok::LParen)) => {
                        c.next();
                        c.next();
                        let name = Ident {
                            name: word.to_string(),
                            span: t.span,
                        };
                        let mut args = Vec::new();
                        loop {
                            if let Some(close) = c.eat(&Tok::RParen) {
                                return Some(Expr::Call {
                                    name,
                                    args,
                                    span: t.span.to(close),
                                });
                            }
                            args.push(self.expr(c)?);
                            if c.eat(&Tok::Comma).is_none() {
                                let Some(close) = c.eat(&Tok::RParen) else {
                                    match c.peek().cloned() {
                                        Some(n) => self.unexpected(&n, "`,` or `)`"),
                                        None => self.expected_at_end(c, "`)`"),
                                    }
                                    return None;
                                };
                                return Some(Expr::Call {
                                    name,
                                    args,
                                    span: t.span.to(close),
                                });
                            }
                        }
                    }
                    _ => Expr::Path(self.path(c)?),
                }
            }
            _ => {
                c.next();
                self.unexpected(&t, "an expression");
                return None;
            }
        })
    }

    pub(super) fn plain_str(&mut self, span: Span) -> Option<String> {
        match plain_string(self.src(), span) {
            Ok(s) => Some(s),
            Err((s, msg)) => {
                self.err(escape_error(s, msg));
                None
            }
        }
    }

    /// A string literal with templates.
    pub(super) fn string_template(&mut self, span: Span) -> Option<Template> {
        match string_pieces(self.src(), span, true) {
            Ok(pieces) => {
                self.dollar_templates(&pieces);
                self.pieces_to_template(pieces, span)
            }
            Err((s, msg)) => {
                self.err(escape_error(s, msg));
                None
            }
        }
    }

    /// Raw text with templates (a target, a header value, `base`, a form field).
    pub(super) fn raw_template(&mut self, span: Span) -> Option<Template> {
        let t = self.raw_text_template(span)?;
        for p in &t.pieces {
            if let TPiece::Lit(_, lit) = p {
                self.dollar_templates_in(*lit);
            }
        }
        Some(t)
    }

    /// Warns about each `${NAME}` in the literal text of `pieces` (see
    /// [`Parser::dollar_templates_in`]).
    pub(super) fn dollar_templates(&mut self, pieces: &[RawPiece]) {
        for p in pieces {
            if let RawPiece::Lit(_, span) = p {
                self.dollar_templates_in(*span);
            }
        }
    }

    /// Warns about each `${NAME}` in the source text at `span`: k6's (JavaScript's)
    /// template, which molotov sends as written. The plan still runs: the text may be
    /// meant (a server that takes such templates); `{{"${NAME}"}}` says so.
    pub(super) fn dollar_templates_in(&mut self, span: Span) {
        let text = self.text(span);
        let mut from = 0;
        while let Some(k) = text[from..].find("${") {
            let start = from + k;
            from = start + 2;
            let Some(close) = text[from..].find('}') else {
                return;
            };
            let inside = text[from..from + close].trim_matches([' ', '\t']);
            let name_like = inside.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && inside
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            if !name_like {
                continue;
            }
            let end = from + close + 1;
            let written = &text[start..end];
            // k6's own variables have molotov names.
            let meant = match inside {
                "__VU" => "worker".to_string(),
                "__ITER" => "iter".to_string(),
                _ => match inside.strip_prefix("__ENV.") {
                    Some(var) => format!("env.{var}"),
                    None => inside.to_string(),
                },
            };
            let at = span.start as usize;
            self.err(
                RawDiag::warning(
                    Span::new(span.file, at + start, at + end),
                    format!("`{written}` is kept as written: a template is `{{{{{meant}}}}}`"),
                )
                .label("not a template")
                .help(format!(
                    "write `{{{{{meant}}}}}` for the value of `{meant}`; to keep `{written}` as \
                     it is, write `{{{{\"{written}\"}}}}`"
                )),
            );
            from = end;
        }
    }

    /// Raw text with templates, sent as written: no `${NAME}` is looked for (a raw body).
    pub(super) fn raw_text_template(&mut self, span: Span) -> Option<Template> {
        match raw_pieces(self.src(), span) {
            Ok(pieces) => self.pieces_to_template(pieces, span),
            Err(s) => {
                self.err(
                    RawDiag::error(s, "unclosed template `{{`")
                        .label("this template is never closed")
                        .help("close it with `}}` on the same line"),
                );
                None
            }
        }
    }

    pub(super) fn pieces_to_template(
        &mut self,
        pieces: Vec<RawPiece>,
        span: Span,
    ) -> Option<Template> {
        let mut out = Vec::new();
        let mut ok = true;
        for p in pieces {
            match p {
                RawPiece::Lit(s, sp) => out.push(TPiece::Lit(s, sp)),
                RawPiece::Expr { whole, inner } => {
                    match parse_template_expr(self.src(), inner, self.diags) {
                        Some(e) => out.push(TPiece::Expr(e, whole)),
                        None => ok = false,
                    }
                }
            }
        }
        ok.then_some(Template { pieces: out, span })
    }
}
