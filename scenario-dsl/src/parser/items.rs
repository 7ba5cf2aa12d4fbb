//! Top-level items (`defaults`, `let`, `setup`/`teardown`, `scenario`, `threshold`,
//! `include`) and block statements (`think`, `repeat`, `if`, `for`, `header`, `log`).

use super::*;

impl Parser<'_, '_> {
    /// `timeout` where a statement goes (k6's per-request timeout): said, and the line
    /// skipped. Out of line: `stmt` recurses once per nested block, and its frame must stay
    /// small (a 1 MiB stack holds the deepest plan, in a debug build too).
    #[inline(never)]
    fn timeout_in_a_block(&mut self, span: Span) {
        self.err(
            RawDiag::error(span, "`timeout` is set in `defaults`, not here")
                .label("not a statement")
                .help(
                    "the request timeout is the plan's: write `timeout 2s` in \
                     `defaults { }` (there is no timeout per request or per scenario)",
                ),
        );
        self.skip_unknown_line();
    }

    // ----- items -------------------------------------------------------------------------

    pub(super) fn file_items(&mut self) -> File {
        let mut items = Vec::new();
        while !self.too_deep {
            self.lx.skip_blank_lines();
            match self.classify() {
                LineKind::Eof => break,
                LineKind::Close => {
                    let span = Span::new(self.file, self.lx.pos, self.lx.pos + 1);
                    self.err(
                        RawDiag::error(span, "unexpected `}`").label("this `}` closes no block"),
                    );
                    self.lx.skip_line();
                }
                LineKind::Word(word, span) => self.item(&word, span, &mut items),
                LineKind::Method(word, span) => {
                    self.err(
                        RawDiag::error(span, "a request must be inside a block")
                            .label("this request is outside any block")
                            .help("put requests in a `scenario NAME { }`, `setup { }` or `teardown { }` block"),
                    );
                    let _ = self.request(&word, span);
                }
                LineKind::Header => {
                    let span = self.line_span();
                    self.err(
                        RawDiag::error(span, "a header must follow a request line")
                            .help("put it under a request, or in `defaults { }` to send it with every request"),
                    );
                    self.lx.skip_line();
                }
                LineKind::JsonBody | LineKind::Fence => self.stray_body(),
                LineKind::Other => self.unknown_line(ITEM_KEYWORDS),
            }
        }
        File {
            items,
            broken_names: std::mem::take(&mut self.broken_names),
        }
    }

    pub(super) fn line_span(&self) -> Span {
        let rest = self.lx.line_rest();
        Span::new(self.file, self.lx.pos, self.lx.pos + rest.trim_end().len())
    }

    pub(super) fn unknown_line(&mut self, _candidates: &[&str]) {
        let rest = self.lx.line_rest();
        let len = rest.chars().next().map(char::len_utf8).unwrap_or(1);
        let span = Span::new(self.file, self.lx.pos, self.lx.pos + len);
        // Escaped as the lexer's `unexpected character` is: a control character, and an
        // invisible one (a zero-width space, a BOM, U+202E) that would read as "unexpected ``"
        // or turn the rest of the line around.
        let found: String = rest
            .chars()
            .next()
            .map(|c| match c {
                '"' | '\'' | '\\' => c.to_string(),
                c => c.escape_debug().collect(),
            })
            .unwrap_or_default();
        let mut d = RawDiag::error(span, format!("unexpected `{found}`"))
            .label("a line starts with a keyword, a method or a header name");
        if let Some(hint) = rest.chars().next().and_then(crate::lexer::lookalike_hint) {
            d = d.help(hint);
        }
        self.err(d);
        self.lx.skip_line();
    }

    pub(super) fn item(&mut self, word: &str, span: Span, items: &mut Vec<Item>) {
        match word {
            "defaults" => {
                if let Some(d) = self.defaults() {
                    items.push(Item::Defaults(d));
                }
            }
            "let" => {
                if let Some(l) = self.let_stmt() {
                    items.push(Item::Let(l));
                }
            }
            "setup" | "teardown" => {
                if let Some(b) = self.setup_block(word == "setup") {
                    items.push(Item::Block(b));
                }
            }
            "scenario" => {
                if let Some(s) = self.scenario() {
                    items.push(Item::Scenario(s));
                }
            }
            "threshold" => {
                if let Some(t) = self.threshold() {
                    items.push(Item::Threshold(t));
                }
            }
            "include" => {
                if let Some(i) = self.include() {
                    items.push(Item::Include(i));
                }
            }
            w if STMT_KEYWORDS.contains(&w) => {
                self.err(
                    RawDiag::error(span, format!("`{w}` must be inside a block"))
                        .label("this statement is outside any block")
                        .help("statements go in a `scenario NAME { }`, `setup { }` or `teardown { }` block"),
                );
                let _ = self.stmt(w, span);
            }
            w => {
                let mut d = RawDiag::error(span, format!("unknown keyword `{w}`"));
                d = match did_you_mean(w, ITEM_KEYWORDS.iter().copied()) {
                    Some(s) => d.label(format!("did you mean `{s}`?")),
                    None => d
                        .label("not a top-level keyword")
                        .help("the top level holds `defaults`, `let`, `setup`, `teardown`, `scenario`, `threshold` and `include`"),
                };
                self.err(d);
                self.skip_unknown_line();
            }
        }
    }

    /// Skips a line that could not be understood; when it ends with `{`, skips its block
    /// too, so one typo does not cascade into errors about the block's `}`.
    pub(super) fn skip_unknown_line(&mut self) {
        let mut c = self.cursor_for_line();
        if let Some(open) = c.pop_brace() {
            // Errors inside a block whose header could not be read are still reported.
            let _ = self.closed_block(open, "this block");
        }
    }

    pub(super) fn defaults(&mut self) -> Option<Defaults> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        let open = self.block_open(&mut c, "`defaults`");
        self.end_of_line(&mut c, "before `{`");
        let mut d = Defaults {
            base: None,
            timeout: None,
            headers: Vec::new(),
            span: kw,
        };
        if std::mem::take(&mut self.one_line_block) {
            return Some(d);
        }
        loop {
            self.lx.skip_blank_lines();
            match self.classify() {
                LineKind::Close => {
                    self.lx.pos += 1;
                    self.after_close();
                    return Some(d);
                }
                LineKind::Eof => {
                    self.unclosed(open.unwrap_or(kw), "`defaults`", None);
                    return Some(d);
                }
                LineKind::Header => {
                    if let Some(h) = self.header_line() {
                        d.headers.push(h);
                    }
                }
                LineKind::Word(w, span) if w == "base" => {
                    self.lx.pos = span.end as usize;
                    self.base_equals();
                    if let Some(t) = self.raw_value_template() {
                        if d.base.is_some() {
                            self.err(
                                RawDiag::error(span, "`base` is set twice").label("second `base`"),
                            );
                        }
                        d.base = Some(t);
                    }
                    self.finish_line();
                }
                LineKind::Word(w, span) if w == "timeout" => {
                    let mut c = self.cursor_for_line();
                    c.next();
                    match self.setting_value(&mut c, span) {
                        Some(Token {
                            tok: Tok::Duration(v),
                            span: ds,
                        }) => {
                            if d.timeout.is_some() {
                                self.err(
                                    RawDiag::error(span, "`timeout` is set twice")
                                        .label("second `timeout`"),
                                );
                            }
                            if v.is_zero() {
                                self.err(
                                    RawDiag::error(ds, "the timeout must be more than zero")
                                        .label("zero timeout"),
                                );
                            }
                            d.timeout = Some((v, ds));
                            self.end_of_line(&mut c, "after the timeout");
                        }
                        Some(t) => self.unexpected(&t, "a duration like `2s`"),
                        None => self.expected_at_end(&c, "a duration like `2s`"),
                    }
                }
                LineKind::Word(w, span) if TOP_ONLY.contains(&w.as_str()) => {
                    self.unclosed(open.unwrap_or(kw), "`defaults`", Some(span));
                    return Some(d);
                }
                // `Authorization Bearer x` (reported and skipped by the guard).
                LineKind::Word(..) | LineKind::Method(..) if self.header_typo_line() => {}
                LineKind::Word(w, span) | LineKind::Method(w, span) => {
                    let mut e =
                        RawDiag::error(span, format!("unknown setting `{w}` in `defaults`"));
                    e = match did_you_mean(&w, ["base", "timeout"]) {
                        Some(s) => e.label(format!("did you mean `{s}`?")),
                        None => e
                            .label("not a setting")
                            .help("`defaults` holds `base URL`, `timeout DURATION` and `Name: value` headers"),
                    };
                    self.err(e);
                    self.lx.skip_line();
                }
                _ => {
                    let span = self.line_span();
                    self.err(RawDiag::error(span, "unexpected line in `defaults`").help(
                        "`defaults` holds `base URL`, `timeout DURATION` and `Name: value` headers",
                    ));
                    self.lx.skip_line();
                }
            }
        }
    }

    /// After a value read with `read_value`: the cursor is at the line end.
    pub(super) fn finish_line(&mut self) {
        self.lx.skip_line();
    }

    /// Handles the rest of a line after a closing `}` that has no `else`.
    pub(super) fn after_close(&mut self) {
        let mut c = self.cursor_for_line();
        self.end_of_line(&mut c, "after `}`");
    }

    /// Checks that a block-opening line ends with `{`; returns the brace's span. A missing
    /// brace is reported, and the block is parsed as if it were there.
    pub(super) fn block_open(&mut self, c: &mut Cursor, what: &str) -> Option<Span> {
        // `if` and `for` lines hold values, where `{` opens an object.
        let holds_values = what == "`if`" || what == "`for`";
        let inner_brace = c.toks[c.i..]
            .iter()
            .position(|t| t.is(&Tok::LBrace))
            .map(|k| c.i + k);
        match c.pop_brace() {
            Some(s) => Some(s),
            None if !holds_values && inner_brace.is_some() => {
                // `scenario main { GET / }`: the block's content follows its `{`.
                let k = inner_brace?;
                let rest = c.toks[k + 1].span.to(c.toks[c.toks.len() - 1].span);
                let one_line = c.toks.last().is_some_and(|t| t.is(&Tok::RBrace));
                self.err(
                    RawDiag::error(rest, "a block's `{` must end its line")
                        .label("this goes on the lines below the `{`")
                        .help(
                            "a block opens with `{` at the end of its line, holds one statement \
                             per line, and closes with `}` alone on its line",
                        ),
                );
                c.toks.truncate(k + 1);
                self.one_line_block = one_line;
                c.pop_brace()
            }
            None => {
                if let Some(brace) = self.brace_on_next_line(c, what) {
                    return Some(brace);
                }
                self.err(
                    RawDiag::error(c.end, format!("expected `{{` to open {what}"))
                        .label("expected `{` at the end of the line"),
                );
                None
            }
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn unclosed(&mut self, open: Span, what: &str, before: Option<Span>) {
        if (before.is_none() && self.eof_reported) || self.too_deep {
            return;
        }
        // A `}` inside that lines up with this block's line closes it: the block left open
        // is the one inside whose `}` that was.
        let end = before.map_or(self.lx.pos, |b| b.start as usize);
        if let Some(d) = self.unclosed_inner(open, end) {
            self.err(d);
            return;
        }
        let mut d = RawDiag::error(open, format!("unclosed block: {what} has no closing `}}`"))
            .label("this block is never closed");
        if let Some(b) = before {
            let text = self.text(b).to_string();
            let line = line_of(self.src(), b.start as usize);
            d = d.help(format!("add `}}` before `{text}` on line {line}"));
        } else {
            d = d.help("add `}` at the end of the block");
        }
        self.err(d);
    }

    pub(super) fn let_stmt(&mut self) -> Option<Let> {
        let mut c = self.cursor_with(true);
        let kw = c.next()?.span;
        let name = self.name(&mut c, "a variable name after `let`")?;
        let value = match self.let_value(&mut c) {
            Some(v) if !self.unquoted_string(&mut c, &v) => v,
            _ => {
                // Reported: the reads of the name below are not reported as undefined too.
                self.broken_names.push(name.name);
                return None;
            }
        };
        self.end_of_line(&mut c, "after the value");
        let span = kw.to(value.span());
        Some(Let { name, value, span })
    }

    /// `= VALUE` after the name of a `let`.
    fn let_value(&mut self, c: &mut Cursor) -> Option<ValueAst> {
        if !self.assign_eq(c, "a value") {
            return None;
        }
        self.value(c)
    }

    /// Notes the names that `body`, a block dropped because its head line is wrong, sets
    /// (see [`File::broken_names`]).
    pub(super) fn dropped_block(&mut self, body: &[Stmt]) {
        let mut names = Vec::new();
        crate::compile::assigned_names(body, &mut names);
        self.broken_names.extend(names.into_iter().map(|(n, _)| n));
    }

    pub(super) fn setup_block(&mut self, setup: bool) -> Option<BlockItem> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        let open = self.block_open(&mut c, if setup { "`setup`" } else { "`teardown`" });
        let worker = match c.next() {
            None => false,
            Some(t) if t.is(&Tok::Ident) && self.text(t.span) == "worker" => true,
            Some(t) => {
                let mut d = RawDiag::error(
                    t.span,
                    format!(
                        "unexpected {} after `{}`",
                        describe(&t.tok, self.text(t.span)),
                        self.text(kw)
                    ),
                );
                d = d.label("expected `worker` or `{`").help(format!(
                    "write `{0} {{` (once per run) or `{0} worker {{` (once per worker)",
                    self.text(kw)
                ));
                self.err(d);
                false
            }
        };
        self.end_of_line(&mut c, "before `{`");
        let kind = match (setup, worker) {
            (true, false) => BlockKind::Setup,
            (true, true) => BlockKind::SetupWorker,
            (false, true) => BlockKind::TeardownWorker,
            (false, false) => BlockKind::Teardown,
        };
        let what = format!("`{}`", kind.keyword());
        let body = self.closed_block(open.unwrap_or(kw), &what);
        Some(BlockItem {
            kind,
            body,
            span: kw,
        })
    }

    pub(super) fn scenario(&mut self) -> Option<Scenario> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        let open = self.block_open(&mut c, "the scenario");
        let name = match c.peek() {
            Some(_) => self.name(&mut c, "a scenario name"),
            None => {
                self.expected_at_end(&c, "a scenario name");
                None
            }
        };
        let mut weight = None;
        let mut delay = None;
        while let Some(t) = c.next() {
            let word = self.text(t.span);
            match (word, &t.tok) {
                ("weight", Tok::Ident) => match self.setting_value(&mut c, t.span) {
                    Some(Token {
                        tok: Tok::Int(n),
                        span,
                    }) => {
                        if weight.is_some() {
                            self.err(
                                RawDiag::error(t.span, "`weight` is given twice")
                                    .label("second `weight`"),
                            );
                        }
                        weight = Some((n.get(), span));
                    }
                    Some(Token {
                        tok: Tok::Float(_),
                        span,
                    }) => {
                        self.err(RawDiag::error(span, "a weight must be a positive integer").label("not an integer").help("weights are relative: `weight 1` and `weight 3` run the second three times as often"));
                        weight = Some((1, span));
                    }
                    Some(t) => self.unexpected(&t, "a weight (a positive integer)"),
                    None => self.expected_at_end(&c, "a weight (a positive integer)"),
                },
                ("delay", Tok::Ident) => match self.setting_value(&mut c, t.span) {
                    Some(Token {
                        tok: Tok::Duration(d),
                        span,
                    }) => {
                        if delay.is_some() {
                            self.err(
                                RawDiag::error(t.span, "`delay` is given twice")
                                    .label("second `delay`"),
                            );
                        }
                        delay = Some((d, span));
                    }
                    Some(t) => self.unexpected(&t, "a duration like `100ms`"),
                    None => self.expected_at_end(&c, "a duration like `100ms`"),
                },
                _ => {
                    if let Tok::Error(..) = t.tok {
                        self.unexpected(&t, "");
                    } else {
                        let mut d = RawDiag::error(
                            t.span,
                            format!("unexpected {} in the scenario line", describe(&t.tok, word)),
                        );
                        d = match did_you_mean(word, ["weight", "delay"]) {
                            Some(s) if t.is(&Tok::Ident) => d.label(format!("did you mean `{s}`?")),
                            _ => d.label("expected `weight N`, `delay D` or `{`"),
                        };
                        self.err(d);
                    }
                }
            }
        }
        let body = self.closed_block(
            open.unwrap_or(kw),
            &match &name {
                Some(n) => format!("scenario `{}`", n.name),
                None => "the scenario".to_string(),
            },
        );
        let name = name?;
        Some(Scenario {
            name,
            weight,
            delay,
            body,
        })
    }

    pub(super) fn threshold(&mut self) -> Option<ThresholdAst> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        // `threshold p95 ~ 1s`: an unknown character where the comparison goes is an
        // unknown comparison.
        let names = c.toks[c.i..]
            .iter()
            .take_while(|t| t.is(&Tok::Ident))
            .count();
        if let Some(t) = c.toks.get(c.i + names).filter(|t| {
            (1..=2).contains(&names)
                && matches!(&t.tok, Tok::Error(m, _) if m.starts_with("unexpected"))
        }) {
            let span = t.span;
            self.unknown_threshold_operator(span);
            return None;
        }
        if self.lex_error(&c) {
            return None;
        }
        let first = self.ident(&mut c, "a metric like `p99` or `errors`")?;
        let (scope, metric) = if c.peek().is_some_and(|t| t.is(&Tok::Ident)) {
            let m = self.ident(&mut c, "a metric")?;
            (Some(first), m)
        } else {
            (None, first)
        };
        // k6's `p(95)`.
        if c.peek()
            .is_some_and(|t| t.is(&Tok::LParen) && t.span.start == metric.span.end)
        {
            self.metric_call(&mut c, &metric);
            return None;
        }
        let cmp = match c.next() {
            Some(t) => match cmp_op(&t.tok) {
                // `<>`, `=>`, `<<`: an operator glued to another is one unknown operator.
                Some(_)
                    if c.peek().is_some_and(|n| {
                        is_operator_char(&n.tok) && n.span.start == t.span.end
                    }) =>
                {
                    let n = c.next()?;
                    self.unknown_threshold_operator(t.span.to(n.span));
                    return None;
                }
                Some(op) => op,
                None if is_operator_char(&t.tok) => {
                    let mut span = t.span;
                    while let Some(n) = c
                        .peek()
                        .filter(|n| is_operator_char(&n.tok) && n.span.start == span.end)
                    {
                        span = span.to(n.span);
                        c.next();
                    }
                    self.unknown_threshold_operator(span);
                    return None;
                }
                None => {
                    self.unexpected(&t, THRESHOLD_COMPARISONS);
                    return None;
                }
            },
            None => {
                self.expected_at_end(&c, THRESHOLD_COMPARISONS);
                return None;
            }
        };
        let value = self.value(&mut c)?;
        self.end_of_line(&mut c, "after the threshold");
        Some(ThresholdAst {
            span: kw.to(value.span()),
            scope,
            metric,
            cmp,
            value,
        })
    }

    /// Reports a metric written as a call, k6's `p(95)` (the cursor is at its `(`).
    fn metric_call(&mut self, c: &mut Cursor, metric: &Ident) {
        let open = c.next().map_or(metric.span, |t| t.span);
        let mut span = metric.span.to(open);
        let mut inside = String::new();
        while let Some(t) = c.next() {
            span = span.to(t.span);
            if t.is(&Tok::RParen) {
                break;
            }
            inside.push_str(self.text(t.span));
        }
        let text = self.text(span).to_string();
        let metrics = "metrics are p50, p90, p95, p99, p999, max, mean, errors, checks, rps";
        let percentile = metric.name == "p" && inside.parse::<f64>().is_ok();
        let d = if percentile {
            let name = format!("p{}", inside.replace('.', ""));
            let known = ["p50", "p90", "p95", "p99", "p999"].contains(&name.as_str());
            let label = if known {
                format!("write `{name}`")
            } else {
                format!("there is no `{name}`")
            };
            RawDiag::error(
                span,
                format!("a percentile is written `{name}`, not `{text}`"),
            )
            .label(label)
            .help(metrics)
        } else {
            RawDiag::error(span, format!("unknown threshold metric `{text}`"))
                .label("a metric is a name, not a call")
                .help(metrics)
        };
        self.err(d);
    }

    fn unknown_threshold_operator(&mut self, span: Span) {
        let text = self.text(span).to_string();
        self.err(
            RawDiag::error(
                span,
                format!("unknown comparison `{text}` in the threshold"),
            )
            .label("not a comparison")
            .help("a threshold compares with `<`, `<=`, `>` or `>=` (also `==` and `!=`)"),
        );
    }

    pub(super) fn include(&mut self) -> Option<Include> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        match c.next() {
            Some(t) if t.is(&Tok::Str) => {
                let path = self.plain_str(t.span)?;
                self.end_of_line(&mut c, "after the include path");
                Some(Include {
                    path,
                    span: t.span.to(kw),
                })
            }
            Some(t) => {
                self.unexpected(&t, "a quoted path like \"common.mol\"");
                None
            }
            None => {
                self.expected_at_end(&c, "a quoted path like \"common.mol\"");
                None
            }
        }
    }

    // ----- blocks and statements ---------------------------------------------------------

    /// Parses statements until the `}` closing the block opened at `open`; the `}` is
    /// consumed (the rest of its line is not).
    pub(super) fn block(&mut self, open: Span, what: &str) -> (Vec<Stmt>, BlockEnd) {
        if std::mem::take(&mut self.one_line_block) {
            return (Vec::new(), BlockEnd::OneLine);
        }
        if !self.enter(open) {
            return (Vec::new(), BlockEnd::Unclosed);
        }
        let parsed = self.block_statements(open, what);
        self.leave();
        parsed
    }

    fn block_statements(&mut self, open: Span, what: &str) -> (Vec<Stmt>, BlockEnd) {
        let mut out = Vec::new();
        loop {
            if self.too_deep {
                return (out, BlockEnd::Unclosed);
            }
            self.lx.skip_blank_lines();
            match self.classify() {
                LineKind::Eof => {
                    self.unclosed(open, what, None);
                    return (out, BlockEnd::Unclosed);
                }
                LineKind::Close => {
                    self.note_close(open, what);
                    self.lx.pos += 1;
                    return (out, BlockEnd::Closed);
                }
                LineKind::Word(w, span) if w == "include" => {
                    // The block goes on: a `}` below still closes it.
                    self.err(
                        RawDiag::error(span, "`include` is only allowed at the top level")
                            .label(format!("`include` inside {what}"))
                            .help(
                                "move the `include` out of the block, to the top level of the \
                                 file (if the block should end before it, add its `}`)",
                            ),
                    );
                    self.lx.skip_line();
                }
                LineKind::Word(w, span) if TOP_ONLY.contains(&w.as_str()) => {
                    self.unclosed(open, what, Some(span));
                    return (out, BlockEnd::Unclosed);
                }
                LineKind::Word(w, span) => {
                    if let Some(s) = self.stmt(&w, span) {
                        out.push(s);
                    }
                }
                LineKind::Method(m, span) => {
                    if let Some(r) = self.request(&m, span) {
                        out.push(Stmt::Request(Box::new(r)));
                    }
                }
                LineKind::Header => {
                    let span = self.line_span();
                    self.err(
                        RawDiag::error(span, "a header must directly follow its request line")
                            .label("no request right above this header")
                            .help("use `header Name: value` to set a header for all later requests of this worker"),
                    );
                    self.lx.skip_line();
                }
                LineKind::JsonBody | LineKind::Fence => self.stray_body(),
                LineKind::Other => self.unknown_line(STMT_KEYWORDS),
            }
        }
    }

    /// Parses a block statement and checks the rest of the closing line.
    pub(super) fn closed_block(&mut self, open: Span, what: &str) -> Vec<Stmt> {
        let (body, end) = self.block(open, what);
        if let BlockEnd::Closed = end {
            self.after_close();
        }
        body
    }

    pub(super) fn stray_body(&mut self) {
        let start = self.lx.pos;
        let span = Span::new(self.file, start, start + 1);
        self.err(
            RawDiag::error(span, "a body must directly follow its request")
                .label("no request right above this body")
                .help("the body goes after the request line and its headers, before `check`/`assert`/`capture`"),
        );
        // Consume the body so its lines do not cascade into more errors.
        let mut sink = DiagSink::default();
        std::mem::swap(self.diags, &mut sink);
        let _ = self.body();
        std::mem::swap(self.diags, &mut sink);
    }

    pub(super) fn stmt(&mut self, word: &str, span: Span) -> Option<Stmt> {
        match word {
            "think" => self.think(),
            "repeat" => self.repeat(),
            "if" => self.if_stmt(),
            "for" => self.for_stmt(),
            "header" => self.sticky_header(),
            "let" => self.let_stmt().map(Stmt::Let),
            "log" => self.log(),
            "check" | "assert" | "capture" => {
                self.err(
                    RawDiag::error(span, format!("`{word}` must follow a request"))
                        .label("no request right above this line")
                        .help(format!("`{word}` lines go right after the request (and its headers and body) they test")),
                );
                let mut c = self.cursor_for_line();
                if word == "capture" {
                    // `capture? NAME = ...`: reported, so its reads are not reported again.
                    c.next();
                    c.eat(&Tok::Question);
                    if let Some(t) = c.next().filter(|t| t.is(&Tok::Ident)) {
                        self.broken_names.push(self.text(t.span).to_string());
                    }
                }
                None
            }
            "form" | "file" => {
                self.stray_body();
                None
            }
            // k6's per-request `timeout` parameter.
            "timeout" => {
                self.timeout_in_a_block(span);
                None
            }
            "else" => {
                self.err(
                    RawDiag::error(span, "`else` without `if`")
                        .label("`else` goes on the `}` line of an `if`: `} else {`"),
                );
                self.skip_unknown_line();
                None
            }
            // `Authorization Bearer x` (reported and skipped by the guard).
            _ if self.header_typo_line() => None,
            w => {
                self.unknown_statement(span, w);
                self.skip_unknown_line();
                None
            }
        }
    }

    /// Reports an unknown statement `w` at `span`, with the likeliest fix as its hint. Out of
    /// [`Parser::stmt`]'s frame: that function recurses once per nested block, and its
    /// frame (in a debug build, every local of every arm) bounds how deep a plan can nest on a
    /// small stack.
    #[cold]
    #[inline(never)]
    fn unknown_statement(&mut self, span: Span, w: &str) {
        let mut d = RawDiag::error(span, format!("unknown statement `{w}`"));
        let upper = w.to_ascii_uppercase();
        let all = STMT_KEYWORDS.iter().copied();
        d = match did_you_mean(w, all) {
            _ if METHODS.contains(&upper.as_str()) => {
                d.label(format!("methods are uppercase: `{upper}`"))
            }
            Some(s) => d.label(format!("did you mean `{s}`?")),
            // Other tools' words.
            None if matches!(w, "sleep" | "wait" | "pause") => d
                .label("not a statement")
                .help("a pause is `think DURATION`, with a unit: `think 1s`, `think 500ms`"),
            None if matches!(w, "print" | "console") => d
                .label("not a statement")
                .help("a message is written with `log \"text\"`"),
            None => match did_you_mean(&w.to_ascii_uppercase(), METHODS.iter().copied()) {
                Some(m) if w.len() > 2 => d.label(format!("did you mean `{m}`? (methods are uppercase)")),
                _ => d
                    .label("not a statement")
                    .help("a block holds requests (`GET /path`) and `think`, `repeat`, `if`, `for`, `header`, `let`, `log`"),
            },
        };
        self.err(d);
    }

    pub(super) fn think(&mut self) -> Option<Stmt> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        let min = match self.setting_value(&mut c, kw) {
            Some(Token {
                tok: Tok::Duration(d),
                span,
            }) => (d, span),
            Some(t) => {
                self.unexpected(&t, "a duration like `1s` or `200ms..1s`");
                return None;
            }
            None => {
                self.expected_at_end(&c, "a duration like `1s` or `200ms..1s`");
                return None;
            }
        };
        let mut max = min;
        // `1s-3s`, `1s - 3s`: a range written with a dash.
        if let Some(t) = c.peek().filter(|t| matches!(t.tok, Tok::Error(..))) {
            let text = self.text(t.span);
            let upper = match text {
                "-" => c
                    .peek_at(1)
                    .filter(|u| matches!(u.tok, Tok::Duration(_)))
                    .map(|u| (self.text(u.span), u.span)),
                _ if text.starts_with('-') => Some((&text[1..], t.span)),
                _ => None,
            };
            if let Some((upper, end)) = upper {
                let lower = self.text(min.1);
                self.err(
                    RawDiag::error(min.1.to(end), "a think range is written with `..`")
                        .label(format!("write `{lower}..{upper}`"))
                        .help(format!(
                            "`think {lower}..{upper}` pauses for a random time between the two"
                        )),
                );
                return None;
            }
        }
        if c.eat(&Tok::DotDot).is_some() {
            match c.next() {
                Some(Token {
                    tok: Tok::Duration(d),
                    span,
                }) => max = (d, span),
                Some(t) => {
                    self.unexpected(&t, "the upper bound of the range, like `1s`");
                    return None;
                }
                None => {
                    self.expected_at_end(&c, "the upper bound of the range, like `1s`");
                    return None;
                }
            }
            if max.0 < min.0 {
                self.err(
                    RawDiag::error(min.1.to(max.1), "the think range is reversed")
                        .label("the lower bound is larger than the upper bound")
                        .help("write the smaller duration first, like `think 200ms..1s`"),
                );
            }
        }
        self.end_of_line(&mut c, "after the think time");
        let _ = kw;
        Some(Stmt::Think {
            min: min.0,
            max: max.0,
        })
    }

    /// The count after `repeat`. Not inlined: `repeat` recurses through its block, and the
    /// diagnostics built here would make every level's frame larger.
    #[inline(never)]
    fn repeat_count(&mut self, c: &mut Cursor, kw: Span) -> Option<(i64, Span)> {
        match self.setting_value(c, kw) {
            Some(Token {
                tok: Tok::Int(n),
                span,
            }) => {
                let n = n.get();
                if n < 1 {
                    self.err(
                        RawDiag::error(span, "the repeat count must be at least 1")
                            .label("not a positive count"),
                    );
                }
                match i64::try_from(n) {
                    Ok(n) => Some((n, span)),
                    Err(_) if n < 1 => Some((1, span)),
                    Err(_) => {
                        self.err(
                            RawDiag::error(span, "the repeat count is too large")
                                .label(format!("at most {}", i64::MAX)),
                        );
                        None
                    }
                }
            }
            Some(t) => {
                self.unexpected(&t, "a repeat count (a positive integer)");
                None
            }
            None => {
                self.expected_at_end(c, "a repeat count (a positive integer)");
                None
            }
        }
    }

    pub(super) fn repeat(&mut self) -> Option<Stmt> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        let open = self.block_open(&mut c, "`repeat`");
        let count = self.repeat_count(&mut c, kw);
        if count.is_some() {
            self.end_of_line(&mut c, "before `{`");
        }
        let body = self.closed_block(open.unwrap_or(kw), "`repeat`");
        if count.is_none() {
            self.dropped_block(&body);
        }
        let (count, count_span) = count?;
        let _ = count_span;
        Some(Stmt::Repeat { count, body })
    }

    pub(super) fn if_stmt(&mut self) -> Option<Stmt> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        self.if_rest(kw, &mut c)
    }

    /// Parses `PREDICATE {` (the cursor is after `if`), the block, and an `else` part.
    pub(super) fn if_rest(&mut self, kw: Span, c: &mut Cursor) -> Option<Stmt> {
        let open = self.block_open(c, "`if`");
        let cond = if self.lex_error(c) {
            None
        } else {
            let p = self.predicate(c);
            if p.is_some() {
                self.end_of_line(c, "after the condition");
            }
            p
        };
        let (then, end) = self.block(open.unwrap_or(kw), "`if`");
        let mut otherwise = None;
        if let BlockEnd::Closed = end {
            let mut c = self.cursor_for_line();
            if c.peek()
                .is_some_and(|t| t.is(&Tok::Ident) && self.text(t.span) == "else")
            {
                let else_kw = c.next()?.span;
                if c.peek()
                    .is_some_and(|t| t.is(&Tok::Ident) && self.text(t.span) == "if")
                {
                    let if_kw = c.next()?.span;
                    // Each `else if` nests the next `if` in this one's `else`.
                    if self.enter(if_kw) {
                        otherwise = self.if_rest(if_kw, &mut c).map(|s| vec![s]);
                        self.leave();
                    }
                    if otherwise.is_none() {
                        otherwise = Some(Vec::new());
                    }
                } else {
                    let open = self.block_open(&mut c, "`else`");
                    self.end_of_line(&mut c, "after `else`");
                    otherwise = Some(self.closed_block(open.unwrap_or(else_kw), "`else`"));
                }
            } else if c.peek().is_some_and(|t| {
                t.is(&Tok::Ident) && matches!(self.text(t.span), "elif" | "elsif" | "elseif")
            }) {
                let t = c.next()?;
                let written = self.text(t.span);
                self.err(
                    RawDiag::error(t.span, format!("unexpected `{written}` after `}}`"))
                        .label("not a keyword of the language")
                        .help("write `} else if CONDITION {`"),
                );
                // Read as the `else if` it means: its block's `}` closes it, not the outer one.
                if self.enter(t.span) {
                    otherwise = self.if_rest(t.span, &mut c).map(|s| vec![s]);
                    self.leave();
                }
                if otherwise.is_none() {
                    otherwise = Some(Vec::new());
                }
            } else {
                self.end_of_line(&mut c, "after `}`");
            }
        }
        if cond.is_none() {
            self.dropped_block(&then);
            self.dropped_block(otherwise.as_deref().unwrap_or_default());
        }
        Some(Stmt::If {
            cond: cond?,
            then,
            otherwise,
        })
    }

    pub(super) fn for_stmt(&mut self) -> Option<Stmt> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        let open = self.block_open(&mut c, "`for`");
        let var = self.name(&mut c, "a loop variable name");
        let list = match &var {
            Some(_) => self.for_list(&mut c),
            None => None,
        };
        let body = self.closed_block(open.unwrap_or(kw), "`for`");
        let head = match (var, list) {
            (Some(var), Some(list)) => Some((var, list)),
            (var, _) => {
                self.broken_names.extend(var.map(|v| v.name));
                self.dropped_block(&body);
                None
            }
        };
        let (var, list) = head?;
        Some(Stmt::For {
            var,
            list,
            body,
            span: kw,
        })
    }

    /// `in LIST` after the variable of a `for`.
    fn for_list(&mut self, c: &mut Cursor) -> Option<ValueAst> {
        if self.lex_error(c) {
            return None;
        }
        match c.next() {
            Some(t) if t.is(&Tok::Ident) && self.text(t.span) == "in" => {}
            Some(t) => {
                self.unexpected(&t, "`in`");
                return None;
            }
            None => {
                self.expected_at_end(c, "`in` and a list");
                return None;
            }
        }
        let list = self.value(c)?;
        self.end_of_line(c, "after the list");
        Some(list)
    }

    pub(super) fn sticky_header(&mut self) -> Option<Stmt> {
        let kw_start = self.lx.pos;
        self.lx.pos += "header".len();
        self.lx.skip_spaces();
        let kw = Span::new(self.file, kw_start, kw_start + 6);
        if !is_header_line(self.lx.line_rest()) {
            let span = self.line_span();
            let span = if span.end as usize > self.lx.pos {
                Span::new(self.file, self.lx.pos, span.end as usize)
            } else {
                kw
            };
            let help = match header_typo(self.lx.line_rest()) {
                Some(typo) => format!(
                    "a header is `Name: value`, the colon glued to the name: write `header {}`",
                    typo.fixed
                ),
                None => "write `header Authorization: Bearer {{token}}`".to_string(),
            };
            self.err(
                RawDiag::error(span, "expected `Name: value` after `header`")
                    .label("expected a header name followed by `:`")
                    .help(help),
            );
            self.lx.skip_line();
            return None;
        }
        let header = self.header_line()?;
        Some(Stmt::Header {
            span: kw.to(header.value.span),
            header,
        })
    }

    pub(super) fn log(&mut self) -> Option<Stmt> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        match c.next() {
            Some(t) if t.is(&Tok::Str) => {
                let message = self.string_template(t.span)?;
                self.end_of_line(&mut c, "after the message");
                Some(Stmt::Log {
                    span: kw.to(t.span),
                    message,
                })
            }
            Some(t) => {
                // `log hello world`: the message is the rest of the line, in quotes.
                let text = self.text(Span::new(
                    self.file,
                    t.span.start as usize,
                    c.end.end as usize,
                ));
                let quoted = if text.contains('"') || matches!(t.tok, Tok::Error(..)) {
                    "log \"...\"".to_string()
                } else {
                    format!("log \"{text}\"")
                };
                self.unexpected_help(
                    &t,
                    "a quoted message",
                    format!("a message is a string: write `{quoted}`"),
                );
                None
            }
            None => {
                self.expected_at_end(&c, "a quoted message");
                None
            }
        }
    }
}

/// What a threshold compares with, for "expected ..." messages.
const THRESHOLD_COMPARISONS: &str = "a comparison (`<`, `<=`, `>`, `>=`, `==`, `!=`)";

/// A token made of operator characters, which may be glued into an unknown operator.
fn is_operator_char(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::Eq | Tok::EqEq | Tok::Ne | Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge
    )
}
