//! Lowering requests (targets, headers, bodies, clauses) and the queries and predicates
//! of `check`, `assert`, `capture` and `if`.

use super::*;
use crate::compile::target::{Reference, reference_kind, starts_with_ignore_case, unquoted};
use crate::source::trailing_run_start;

impl Compiler<'_> {
    // ----- requests ----------------------------------------------------------------------

    pub(super) fn lower_request(&mut self, r: &RequestAst, scope: &Scope, flow: &mut Flow) {
        let id = RequestId(self.requests.len() as u32);
        let location = self.location(r.span);
        let written = self.text(r.target.span).to_string();
        let target = match unquoted(&written) {
            Some(bare) => {
                let help = format!("drop the quotes: `{} {bare}`", r.method);
                self.err(
                    RawDiag::error(r.target.span, format!("invalid request target `{written}`"))
                        .label("a target is written without quotes")
                        .help(help),
                );
                None
            }
            None => self.lower_target(&r.target, scope, flow),
        };
        let (target, mut var) = target.unwrap_or((
            TargetCode::Url {
                template: TemplateCode::default(),
            },
            Variability::Dynamic,
        ));

        let mut own = Vec::new();
        let mut own_names: Vec<HeaderName> = Vec::new();
        for h in &r.headers {
            if self.framing_header(&h.name, h.name_span) {
                continue;
            }
            let name = self.intern_header(&h.name);
            if own_names.contains(&name) {
                self.err(
                    RawDiag::error(
                        h.name_span,
                        format!("header `{}` is set twice in this request", h.name),
                    )
                    .label("duplicate header")
                    .help("combine the values with a comma"),
                );
                continue;
            }
            own_names.push(name);
            if let Some((value, v)) = self.lower_header_value(&h.value, scope, flow) {
                var = var.max(v);
                own.push(HeaderCode { name, value });
            }
        }

        let (body, content_type, body_var) = self.lower_body(r.body.as_ref(), scope, flow);
        var = var.max(body_var);

        let content_type_name = self.intern_header("Content-Type");
        // A form body says what it is: its type is the request's own (a `Content-Type` in
        // `defaults` or a sticky one, typically `application/json`, does not replace it),
        // unless the request's own header lines set one.
        let content_type = match content_type {
            Some(ct @ FORM_CONTENT_TYPE) => {
                if !own_names.contains(&content_type_name) {
                    own_names.push(content_type_name);
                    own.push(HeaderCode {
                        name: content_type_name,
                        value: TemplateCode {
                            pieces: vec![Piece::Lit(ct.as_bytes().into())].into(),
                        },
                    });
                }
                None
            }
            other => other,
        };
        let mut base = Vec::new();
        for (name, value, v, _) in &self.default_headers {
            if !own_names.contains(name) {
                base.push(HeaderCode {
                    name: *name,
                    value: value.clone(),
                });
                var = var.max(*v);
            }
        }
        if let Some(ct) = content_type {
            let defaulted = self
                .default_headers
                .iter()
                .any(|(n, ..)| *n == content_type_name);
            if !own_names.contains(&content_type_name) && !defaulted {
                base.push(HeaderCode {
                    name: content_type_name,
                    value: TemplateCode {
                        pieces: vec![Piece::Lit(ct.as_bytes().into())].into(),
                    },
                });
            }
        }

        let mut clauses = Vec::new();
        let mut needs = Needs::default();
        for c in &r.clauses {
            match c {
                ast::Clause::Check(p) | ast::Clause::Assert(p) => {
                    let is_assert = matches!(c, ast::Clause::Assert(_));
                    let Some(pred) = self.lower_pred(p, scope, flow, Some(&mut needs)) else {
                        continue;
                    };
                    let cid = CheckId(self.checks.len() as u32);
                    self.checks.push(CheckInfo {
                        text: single_spaced(self.text(p.span)),
                        location: self.location(p.span),
                        is_assert,
                        request: id,
                    });
                    clauses.push(if is_assert {
                        ClauseCode::Assert { id: cid, pred }
                    } else {
                        ClauseCode::Check { id: cid, pred }
                    });
                }
                ast::Clause::Capture {
                    name,
                    optional,
                    query,
                    count,
                    span,
                } => {
                    let q =
                        self.lower_query(query, scope, flow, *optional || *count, Some(&mut needs));
                    let Some(&slot) = scope.own.get(&name.name) else {
                        continue;
                    };
                    // Set even when the query has an error (reported): a read below is not
                    // an error of its own.
                    if *optional {
                        flow.set_maybe(slot);
                    } else {
                        flow.set(slot);
                    }
                    let Some(q) = q else { continue };
                    if *count && !self.count_allowed(&q, query.span()) {
                        continue;
                    }
                    clauses.push(ClauseCode::Capture {
                        slot,
                        optional: *optional,
                        query: q,
                        count: *count,
                        name: name.name.as_str().into(),
                        location: self.location(*span),
                    });
                }
            }
        }

        let (name, explicit) = match &r.name {
            Some(n) => (n.name.clone(), true),
            None => (format!("{} {}", r.method, self.text(r.target.span)), false),
        };
        self.requests.push(RequestInfo {
            name,
            explicit_name: explicit,
            method: r.method.clone(),
            location: location.clone(),
            needs,
            scenario: scope.scenario,
        });
        self.request_name_spans
            .push(r.name.as_ref().map(|n| n.span));
        let literal_headers = LiteralHeaders::of(&base, &own);
        let json_reading = JsonReading::of(&mut clauses);
        self.request_code.push(RequestCode {
            method: r.method.clone(),
            target,
            base_headers: base.into(),
            own_headers: own.into(),
            literal_headers,
            body,
            clauses: clauses.into(),
            json_reading,
            variability: var,
            location,
        });
        self.ops.push(Op::Send(id));
    }

    /// A target's code. A literal start (`/path`, `http://host/path`) is known as written:
    /// a literal path is joined to `base`'s path prefix. A template at the start is a URL
    /// reference, resolved against `base` as a `Location` header is (see [`Reference`]),
    /// whether its value is a constant (resolved here) or computed at run time (resolved by
    /// the interpreter, which also drops a fragment). A `#` in a constant there is an error,
    /// as a literal `#` is.
    pub(super) fn lower_target(
        &mut self,
        t: &Template,
        scope: &Scope,
        flow: &Flow,
    ) -> Option<(TargetCode, Variability)> {
        let starts_with_path =
            matches!(t.pieces.first(), Some(TPiece::Lit(s, _)) if s.starts_with('/'));
        let starts_with_template = matches!(t.pieces.first(), Some(TPiece::Expr(..)));
        let mut part = if starts_with_path {
            UrlPart::Path
        } else {
            UrlPart::Origin
        };
        let mut pieces = Vec::new();
        // The holes written as is (the URL's start): a constant there may hold a `#`.
        let mut url_start_holes = Vec::new();
        let mut ok = true;
        for (i, p) in t.pieces.iter().enumerate() {
            match p {
                TPiece::Lit(text, span) => {
                    if let Some(pos) = text.find('#') {
                        let at = span.start as usize + pos;
                        self.err(
                            RawDiag::error(
                                Span::new(span.file, at, at + 1),
                                "a request target cannot contain `#`",
                            )
                            .label("fragments are not sent to the server")
                            .help("write `%23` for a literal `#`"),
                        );
                        ok = false;
                    }
                    let mut bytes = Vec::new();
                    percent_encode(&mut bytes, text.as_bytes(), Escape::UrlStart);
                    pieces.push(LPiece::Lit(bytes));
                    part = part.after(text, i == 0);
                }
                TPiece::Expr(e, span) => {
                    // After a value at the start, which may bring a query (`/s?q=`), a
                    // hole is a query component if a `?` comes before it at run time.
                    let after_start = !url_start_holes.is_empty();
                    let esc = match part {
                        UrlPart::Origin if after_start => Escape::UrlStartOrQuery,
                        UrlPart::Path if after_start => Escape::PathOrQuery,
                        part => part.escape(),
                    };
                    if part == UrlPart::Origin {
                        url_start_holes.push((e, *span));
                    }
                    pieces.push(LPiece::Expr(e, esc, *span));
                }
            }
        }
        let (template, var) = self.lower_pieces(pieces, scope, flow)?;
        if !ok {
            return None;
        }
        // Literal text has no `#` (reported above) and holes in the path or query encode
        // theirs: a `#` left in the lowered text is a constant's, written as is.
        let has_hash = template
            .pieces
            .iter()
            .any(|p| matches!(p, Piece::Lit(b) if b.contains(&b'#')));
        if has_hash {
            self.constant_fragment(&url_start_holes, t.span, scope, flow);
            return None;
        }
        let target_text = self.text(t.span).to_string();
        if let Some(bytes) = template.constant() {
            let text = String::from_utf8_lossy(bytes).into_owned();
            if starts_with_template {
                return self.constant_reference(t.span, &text, &target_text);
            }
            if text.starts_with('/') {
                let (origin, prefix) = self.need_base(t.span, &target_text)?;
                return Some((
                    TargetCode::Fixed {
                        origin,
                        path: format!("{prefix}{text}").into(),
                    },
                    Variability::Constant,
                ));
            }
            return match parse_origin(&text) {
                Ok((o, rest)) => {
                    let origin = self.intern_origin(o);
                    Some((
                        TargetCode::Fixed {
                            origin,
                            path: path_of(&text[rest..]).into(),
                        },
                        Variability::Constant,
                    ))
                }
                // The target as written, not as encoded (`é` is not `%C3%A9` to its author).
                Err(_) if !text.contains("://") => {
                    self.bad_target(
                        t.span,
                        &target_text,
                        "expected a path starting with `/` or an absolute `http://` URL",
                    );
                    None
                }
                Err(msg) => {
                    self.bad_target(t.span, &target_text, &msg);
                    None
                }
            };
        }
        // A hole written as is: the URL's start is only known at run time.
        if template.pieces.iter().any(|p| {
            matches!(
                p,
                Piece::Expr(_, Escape::UrlStart | Escape::UrlStartOrQuery)
            )
        }) {
            return Some((TargetCode::Url { template }, var));
        }
        let first = match template.pieces.first() {
            Some(Piece::Lit(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        };
        // The origin and the path prefix of a path on `base`'s origin.
        let on_base = match first {
            // A constant at the start, then holes in the path or query.
            Some(ref lit)
                if starts_with_template && reference_kind(lit) != Ok(Reference::Absolute) =>
            {
                let relative = match reference_kind(lit) {
                    Ok(Reference::AbsolutePath) => false,
                    Ok(Reference::RelativePath) => true,
                    // `//host/...`: the scheme comes from `base`, at run time.
                    Ok(_) => return Some((TargetCode::Url { template }, var)),
                    Err(why) => {
                        self.bad_target(t.span, lit, why);
                        return None;
                    }
                };
                let (origin, base_prefix) = self.need_base(t.span, &target_text)?;
                Some((
                    origin,
                    if relative {
                        format!("{base_prefix}/").into()
                    } else {
                        "".into()
                    },
                ))
            }
            Some(ref lit) if lit.starts_with('/') => Some(self.need_base(t.span, &target_text)?),
            _ => None,
        };
        if let Some((origin, prefix)) = on_base {
            return Some((
                TargetCode::Path {
                    origin,
                    prefix,
                    template,
                },
                var,
            ));
        }
        match first {
            Some(lit)
                if starts_with_ignore_case(&lit, "http://")
                    || starts_with_ignore_case(&lit, "https://") =>
            {
                match parse_origin(&lit) {
                    // The whole authority is literal: only the path is rendered.
                    Ok((o, rest)) if rest < lit.len() => {
                        let origin = self.intern_origin(o);
                        let mut pieces: Vec<Piece> = template.pieces.into_vec();
                        let remaining = &lit.as_bytes()[rest..];
                        let prefix = if remaining.starts_with(b"?") { "/" } else { "" };
                        pieces[0] = Piece::Lit(remaining.into());
                        Some((
                            TargetCode::Path {
                                origin,
                                prefix: prefix.into(),
                                template: TemplateCode {
                                    pieces: pieces.into(),
                                },
                            },
                            var,
                        ))
                    }
                    _ => Some((TargetCode::Url { template }, var)),
                }
            }
            Some(_) => {
                self.bad_target(
                    t.span,
                    &target_text,
                    "expected a path starting with `/` or an absolute `http://` URL",
                );
                None
            }
            None => Some((TargetCode::Url { template }, var)),
        }
    }

    /// The target of a template at the start whose whole value is the constant `text`,
    /// resolved against `base` (see [`Reference`]).
    fn constant_reference(
        &mut self,
        span: Span,
        text: &str,
        target_text: &str,
    ) -> Option<(TargetCode, Variability)> {
        let kind = match reference_kind(text) {
            Ok(kind) => kind,
            Err(why) => {
                self.bad_target(span, text, why);
                return None;
            }
        };
        let fixed = |origin, path: String| {
            Some((
                TargetCode::Fixed {
                    origin,
                    path: path.into(),
                },
                Variability::Constant,
            ))
        };
        let url = match kind {
            Reference::AbsolutePath => {
                let (origin, _) = self.need_base(span, target_text)?;
                return fixed(origin, text.into());
            }
            Reference::RelativePath => {
                let (origin, prefix) = self.need_base(span, target_text)?;
                return fixed(origin, format!("{prefix}/{text}"));
            }
            Reference::NetworkPath => {
                let (origin, _) = self.need_base(span, target_text)?;
                let scheme = if self.origins[origin as usize].https {
                    "https:"
                } else {
                    "http:"
                };
                format!("{scheme}{text}")
            }
            Reference::Absolute => text.to_string(),
        };
        match parse_origin(&url) {
            Ok((o, rest)) => {
                let origin = self.intern_origin(o);
                fixed(origin, path_of(&url[rest..]))
            }
            Err(msg) => {
                self.bad_target(span, text, &msg);
                None
            }
        }
    }

    /// Reports the constants among `holes` (written as is at a target's start) whose value
    /// has a `#`: a fragment, which a request target cannot hold. `target`: the whole
    /// target's span, reported when no hole is found to blame.
    fn constant_fragment(
        &mut self,
        holes: &[(&Expr, Span)],
        target: Span,
        scope: &Scope,
        flow: &Flow,
    ) {
        let mut reported = false;
        for (e, span) in holes {
            // These lowered without error a moment ago: lowering them again reports nothing.
            let Some((ExprCode::Const(v), _)) = self.lower_expr(e, scope, flow, false) else {
                continue;
            };
            let mut text = Vec::new();
            let _ = write_value(&mut text, &Evaluated::Ref(&v), "", Escape::UrlStart);
            if text.contains(&b'#') {
                let value = String::from_utf8_lossy(&text).into_owned();
                self.err(
                    RawDiag::error(*span, "a request target cannot contain `#`")
                        .label(format!(
                            "this value, `{value}`, has a fragment, which is not sent to the server"
                        ))
                        .help(
                            "leave the fragment out of the value, or write `%23` for a literal `#`",
                        ),
                );
                reported = true;
            }
        }
        if !reported {
            self.err(
                RawDiag::error(target, "a request target cannot contain `#`")
                    .label("fragments are not sent to the server"),
            );
        }
    }

    pub(super) fn bad_target(&mut self, span: Span, text: &str, why: &str) {
        // A no-break space pasted between the method and the target is read as part of the
        // target: say so, not only that the target is wrong.
        let help = text
            .chars()
            .next()
            .and_then(crate::lexer::lookalike_hint)
            .unwrap_or_else(|| {
                "a target is a path (`/items?page=2`) or an absolute URL \
                 (`http://host:8080/items`)"
                    .into()
            });
        self.err(
            RawDiag::error(span, format!("invalid request target `{text}`"))
                .label(why.to_string())
                .help(help),
        );
    }

    pub(super) fn need_base(&mut self, span: Span, target: &str) -> Option<(u32, Box<str>)> {
        match &self.base {
            Some((o, prefix)) => Some((*o, prefix.clone())),
            // `base` itself is wrong and already reported.
            None if self.base_failed => None,
            None => {
                self.err(
                    RawDiag::error(span, format!("relative target `{target}` needs a `base`"))
                        .label("no `base` URL to join this path to")
                        .help("add `defaults { base http://host:port }`, or write an absolute URL"),
                );
                None
            }
        }
    }

    /// The body's bytes, the `Content-Type` it implies, and how it varies.
    pub(super) fn lower_body(
        &mut self,
        body: Option<&BodyAst>,
        scope: &Scope,
        flow: &Flow,
    ) -> (TemplateCode, Option<&'static str>, Variability) {
        let Some(body) = body else {
            return (TemplateCode::default(), None, Variability::Constant);
        };
        let (pieces, ct) = match body {
            BodyAst::Json(pieces) => {
                let ps = pieces
                    .iter()
                    .map(|p| match p {
                        JsonPiece::Lit(s) => LPiece::Lit(s.as_bytes().to_vec()),
                        JsonPiece::Expr {
                            expr,
                            in_string,
                            span,
                        } => LPiece::Expr(
                            expr,
                            if *in_string {
                                Escape::JsonString
                            } else {
                                Escape::JsonValue
                            },
                            *span,
                        ),
                    })
                    .collect();
                (ps, Some("application/json"))
            }
            BodyAst::Raw(t) => (simple_pieces(t, Escape::Raw), None),
            BodyAst::Form(fields) => {
                // Names and values alike: literal text and templates' values are
                // form-encoded.
                fn form(p: &TPiece) -> LPiece<'_> {
                    match p {
                        TPiece::Lit(s, _) => {
                            let mut b = Vec::new();
                            percent_encode(&mut b, s.as_bytes(), Escape::Form);
                            LPiece::Lit(b)
                        }
                        TPiece::Expr(e, span) => LPiece::Expr(e, Escape::Form, *span),
                    }
                }
                let mut ps = Vec::new();
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        ps.push(LPiece::Lit(b"&".to_vec()));
                    }
                    ps.extend(f.name.pieces.iter().map(form));
                    ps.push(LPiece::Lit(b"=".to_vec()));
                    ps.extend(f.value.pieces.iter().map(form));
                }
                (ps, Some(FORM_CONTENT_TYPE))
            }
            BodyAst::File(path, span) => {
                let dir = self.sources.file(span.file).dir.clone();
                let full = dir.join(path);
                return match crate::compile::read_limited(
                    &full,
                    crate::compile::MAX_BODY_FILE_BYTES,
                ) {
                    Ok(bytes) => {
                        self.body_files.push(full);
                        (
                            TemplateCode {
                                pieces: vec![Piece::Lit(bytes.into())].into(),
                            },
                            None,
                            Variability::Constant,
                        )
                    }
                    Err(why) => {
                        self.err(
                            RawDiag::error(
                                *span,
                                format!(
                                    "cannot read body file `{}`: {why}",
                                    crate::printable(path)
                                ),
                            )
                                .label("read at compile time")
                                .help("`file` paths are relative to the directory of the plan that names them"),
                        );
                        (TemplateCode::default(), None, Variability::Constant)
                    }
                };
            }
        };
        match self.lower_pieces(pieces, scope, flow) {
            Some((t, v)) => (t, ct, v),
            None => (TemplateCode::default(), ct, Variability::Dynamic),
        }
    }

    // ----- queries and predicates --------------------------------------------------------

    pub(super) fn lower_query(
        &mut self,
        q: &QueryAst,
        scope: &Scope,
        flow: &Flow,
        guarded: bool,
        needs: Option<&mut Needs>,
    ) -> Option<QueryCode> {
        let mut needs = needs;
        let need_body = |n: &mut Option<&mut Needs>| {
            if let Some(n) = n {
                n.body = true;
            }
        };
        Some(match q {
            QueryAst::Status(_) => QueryCode::Status,
            QueryAst::Duration(_) => QueryCode::Duration,
            QueryAst::Body(_) => {
                need_body(&mut needs);
                QueryCode::Body
            }
            QueryAst::Header(name, span) => {
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                {
                    self.err(
                        RawDiag::error(*span, format!("invalid header name `{name}`"))
                            .label("not a header name"),
                    );
                    return None;
                }
                let lower = name.to_ascii_lowercase();
                if let Some(n) = needs
                    && !n.headers.iter().any(|h| **h == *lower)
                {
                    n.headers.push(lower.as_str().into());
                }
                QueryCode::Header(lower.into())
            }
            QueryAst::JsonPath(text, span) => {
                need_body(&mut needs);
                match serde_json_path::JsonPath::parse(text) {
                    Ok(path) => QueryCode::JsonPath {
                        path,
                        singular: jsonpath_is_singular(text),
                        steps: jsonpath_steps(text).map(Into::into),
                        // Numbered with the request's other clauses by `JsonReading::of`.
                        extract_at: None,
                        text: text.as_str().into(),
                    },
                    Err(e) => {
                        // Point at the error inside the string when the text maps 1:1.
                        let raw = self.text(*span);
                        let at = if raw.len() == text.len() + 2 {
                            let pos = span.start as usize + 1 + e.position().min(text.len());
                            Span::new(span.file, pos, pos + 1)
                        } else {
                            *span
                        };
                        let why = match e.message() {
                            "parser error" => "not valid JSONPath from here",
                            m => m,
                        };
                        // `$.user-agent`: a name that is not a shorthand goes in brackets.
                        let help = match bracketed_names(text) {
                            Some(fixed) => format!(
                                "in JSONPath (RFC 9535) a name with `-` (or that starts with a \
                                 digit) goes in brackets: `{fixed}`"
                            ),
                            None => "JSONPath follows RFC 9535, like `$.items[0].id` or \
                                     `$.items[*].id`"
                                .to_string(),
                        };
                        self.err(
                            RawDiag::error(at, format!("invalid JSONPath `{text}`"))
                                .label(why.to_string())
                                .help(help),
                        );
                        return None;
                    }
                }
            }
            QueryAst::Regex(text, span) => {
                need_body(&mut needs);
                QueryCode::Regex {
                    re: self.regex(text, *span)?,
                    text: text.as_str().into(),
                }
            }
            QueryAst::Var(p) => {
                let expr = self.lower_path(p, scope, flow, guarded)?.0;
                let text = p.segs.is_empty()
                    && matches!(expr, ExprCode::Var { slot, .. } if self.holds_text(slot, scope));
                QueryCode::Var(VarQuery { expr, text })
            }
        })
    }

    pub(super) fn regex(&mut self, text: &str, span: Span) -> Option<regex::bytes::Regex> {
        match regex::bytes::Regex::new(text) {
            Ok(re) => Some(re),
            Err(e) => {
                let msg = e.to_string();
                let reason = msg
                    .lines()
                    .find_map(|l| l.strip_prefix("error: "))
                    .unwrap_or_else(|| msg.lines().next().unwrap_or("invalid"))
                    .to_string();
                self.err(
                    RawDiag::error(span, format!("invalid regex `{text}`"))
                        .label(reason)
                        .help("regexes use the syntax of the Rust `regex` crate"),
                );
                None
            }
        }
    }

    pub(super) fn count_allowed(&mut self, q: &QueryCode, span: Span) -> bool {
        if matches!(q, QueryCode::Status | QueryCode::Duration | QueryCode::Body) {
            self.err(
                RawDiag::error(span, "`count` cannot follow this query")
                    .label("a single value has nothing to count")
                    .help("`count` counts the matches of `jsonpath`, `regex` or `header`, or the items of a list variable"),
            );
            return false;
        }
        true
    }

    /// `needs` is `None` for `if` conditions, which cannot read a response.
    pub(super) fn lower_pred(
        &mut self,
        p: &PredAst,
        scope: &Scope,
        flow: &Flow,
        needs: Option<&mut Needs>,
    ) -> Option<PredCode> {
        if needs.is_none() && p.query.needs_response() {
            let what = self.text(p.query.span()).to_string();
            self.err(
                RawDiag::error(p.query.span(), "an `if` condition can only test variables")
                    .label(format!("`{what}` reads a response"))
                    .help("capture the value after the request (`capture s = status`), then test it: `if s == 200 {`"),
            );
            return None;
        }
        // An unset variable fails the predicate (like a query that finds nothing), so a
        // predicate may test a variable that is set on some paths only.
        let query = self.lower_query(&p.query, scope, flow, true, needs)?;
        if p.count && !self.count_allowed(&query, p.query.span()) {
            return None;
        }
        let is_duration = matches!(query, QueryCode::Duration) && !p.count;
        let operand = |this: &mut Self, v: &ValueAst| -> Option<Operand> {
            let o = this.lower_operand(v, scope, flow, false)?;
            match (&o, is_duration) {
                (Operand::Duration(_), false) => {
                    this.err(
                        RawDiag::error(v.span(), "only `duration` compares with a duration")
                            .label("unexpected duration")
                            .help("write a number, or query `duration`"),
                    );
                    None
                }
                (Operand::Duration(_), true) => Some(o),
                (_, true) => {
                    this.err(
                        RawDiag::error(v.span(), "`duration` compares with a duration")
                            .label("expected a duration like `500ms`"),
                    );
                    None
                }
                _ => Some(o),
            }
        };
        let op = match &p.op {
            OpAst::Exists => OpCode::Exists,
            OpAst::Cmp(c, v) => {
                let o = operand(self, v)?;
                if matches!(query, QueryCode::Status)
                    && !p.count
                    && matches!(o, Operand::Const(Value::String(_)) | Operand::Text(_))
                {
                    self.err(
                        RawDiag::error(v.span(), "`status` is a number")
                            .label("compare it with a number like `200`"),
                    );
                    return None;
                }
                // A variable of response text on the right of an ordering reads as a
                // number, as response text on the left does.
                let text_var = matches!(c, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
                    && matches!(&o, Operand::Expr(ExprCode::Var { slot, path, .. })
                        if path.is_empty() && self.holds_text(*slot, scope));
                let o = match o {
                    Operand::Expr(e) if text_var => Operand::TextNumber(e),
                    o => o,
                };
                OpCode::Cmp(*c, o)
            }
            OpAst::In(v) => {
                let o = operand(self, v)?;
                match &o {
                    Operand::Const(Value::Array(_)) | Operand::List(_) | Operand::Expr(_) => {
                        OpCode::In(o)
                    }
                    _ => {
                        self.err(
                            RawDiag::error(v.span(), "`in` needs a list")
                                .label("not a list")
                                .help("write `status in [200, 201]`"),
                        );
                        return None;
                    }
                }
            }
            OpAst::Contains(v) => OpCode::Contains(operand(self, v)?),
            OpAst::StartsWith(v) => OpCode::StartsWith(operand(self, v)?),
            OpAst::EndsWith(v) => OpCode::EndsWith(operand(self, v)?),
            OpAst::Matches(re, span) => OpCode::Matches(self.regex(re, *span)?),
        };
        let _ = CmpOp::Eq;
        Some(PredCode {
            query,
            count: p.count,
            negate: p.negate,
            op,
            text: single_spaced(self.text(p.span)).into(),
        })
    }
}

/// A check's source text as reports show it: each run of spaces and tabs between tokens
/// (tab indentation, tab-separated tokens: an editor setting) is one space, so that a
/// report's table does not show `status\t==\t200`; a tab inside a string literal is the
/// check's content, and is kept.
pub(crate) fn single_spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped, mut space) = (false, false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == ' ' || c == '\t' {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// The path of a URL after its authority: `/` when empty, `/?q` for a bare query.
pub(crate) fn path_of(rest: &str) -> String {
    if rest.is_empty() {
        "/".into()
    } else if rest.starts_with('?') {
        format!("/{rest}")
    } else {
        rest.into()
    }
}

/// The steps of a singular query spelled in the simple forms, `None` for any other path
/// (which serde_json_path then evaluates): `$`, then segments that are each `.name` (an
/// ASCII letter or `_`, then ASCII letters, digits or `_`), `['name']` or `["name"]` (no
/// backslash escape, no whitespace in the brackets) or `[index]` (RFC 9535's `int`: `0`, or
/// an optional `-` then digits without a leading zero). Those are the paths whose meaning
/// [`crate::render::walk`] has exactly: a name selects an object's member, an index an
/// array's element (a negative one from the end), anything else selects nothing.
/// (Called on paths that already parsed.)
pub(crate) fn jsonpath_steps(text: &str) -> Option<Vec<PathStep>> {
    let b = text.as_bytes();
    if b.first() != Some(&b'$') {
        return None;
    }
    let mut steps = Vec::new();
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let first = *b.get(start)?;
                if !(first.is_ascii_alphabetic() || first == b'_') {
                    return None;
                }
                i = start + 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                if i < b.len() && !matches!(b[i], b'.' | b'[') {
                    return None;
                }
                steps.push(PathStep::Key(text[start..i].into()));
            }
            b'[' => {
                let close = i + b[i..].iter().position(|&c| c == b']')?;
                let inner = &text[i + 1..close];
                let bytes = inner.as_bytes();
                match bytes.first()? {
                    q @ (b'\'' | b'"') => {
                        let name = inner.strip_prefix(*q as char)?.strip_suffix(*q as char)?;
                        if name.contains(['\\', '\'', '"']) || name.chars().any(char::is_control) {
                            return None;
                        }
                        steps.push(PathStep::Key(name.into()));
                    }
                    _ => {
                        let digits = inner.strip_prefix('-').unwrap_or(inner);
                        let valid = !digits.is_empty()
                            && digits.bytes().all(|c| c.is_ascii_digit())
                            && (digits == "0" || !digits.starts_with('0'))
                            && inner != "-0";
                        if !valid {
                            return None;
                        }
                        steps.push(PathStep::Index(inner.parse().ok()?));
                    }
                }
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// The `Content-Type` of a `form { }` body.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// `path` with each dotted member name that RFC 9535's shorthand does not allow (one with
/// a `-`, or starting with a digit: `$.user-agent`, `$..x-id`, `$.a.2b`, `@.x-y` in a
/// filter) written as a bracketed name (`$['user-agent']`), when that makes a valid
/// JSONPath of it.
fn bracketed_names(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len() + 8);
    let mut changed = false;
    let mut rest = path;
    let mut quote: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match (quote, c) {
            (Some(q), _) => {
                out.push(c);
                if c == '\\' {
                    if let Some(e) = rest.chars().next() {
                        out.push(e);
                        rest = &rest[e.len_utf8()..];
                    }
                } else if c == q {
                    quote = None;
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            // (Not the `.` of a number in a filter: `@.a == 1.5`.)
            (None, '.') if !after_number(&out) => {
                let descendant = rest.starts_with('.');
                if descendant {
                    rest = &rest[1..];
                }
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(rest.len());
                let name = &rest[..len];
                rest = &rest[len..];
                let shorthand = name
                    .chars()
                    .next()
                    .is_some_and(|f| !f.is_ascii_digit() && f != '-')
                    && !name.contains('-');
                if name.is_empty() || shorthand {
                    out.push_str(if descendant { ".." } else { "." });
                    out.push_str(name);
                } else {
                    out.push_str(if descendant { "..['" } else { "['" });
                    out.push_str(name);
                    out.push_str("']");
                    changed = true;
                }
            }
            (None, _) => out.push(c),
        }
    }
    (changed && serde_json_path::JsonPath::parse(&out).is_ok()).then_some(out)
}

/// True when `text` ends with a number (`== 1` in `@.a == 1.5`), not a name (`$.a1`).
fn after_number(text: &str) -> bool {
    let word = &text[trailing_run_start(text, |c| c.is_alphanumeric() || c == '_' || c == '-')..];
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit() || b == b'-')
}

/// RFC 9535 singular query: only name and index selectors, one per segment, no `..`.
/// (Called on paths that already parsed.)
pub(crate) fn jsonpath_is_singular(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 1; // after `$`
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= b.len() {
            return true;
        }
        match b[i] {
            b'.' => {
                if b.get(i + 1) == Some(&b'.') || b.get(i + 1) == Some(&b'*') {
                    return false;
                }
                i += 1;
                while i < b.len() && !matches!(b[i], b'.' | b'[' | b' ' | b'\t' | b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'[' => {
                i += 1;
                skip_ws(&mut i);
                match b.get(i) {
                    Some(q @ (b'\'' | b'"')) => {
                        let q = *q;
                        i += 1;
                        while i < b.len() && b[i] != q {
                            if b[i] == b'\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                        i += 1;
                    }
                    Some(c) if c.is_ascii_digit() || *c == b'-' => {
                        i += 1;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                    _ => return false,
                }
                skip_ws(&mut i);
                if b.get(i) != Some(&b']') {
                    return false;
                }
                i += 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path the direct walk takes selects what serde_json_path selects, on documents
    /// where each step can hit, miss, or meet the wrong type; the others are left to it.
    #[test]
    fn a_check_s_text_has_one_space_between_tokens() {
        for (written, shown) in [
            ("status\t==\t200", "status == 200"),
            ("body contains\t \"ok\"", "body contains \"ok\""),
            // A tab in a string is the check's content.
            ("body contains \"a\tb\"", "body contains \"a\tb\""),
            ("body  ==  \"x\\\"\t\"\t", "body == \"x\\\"\t\""),
            (
                "header \"X\"\t==\t{{ \"a\tb\" }}",
                "header \"X\" == {{ \"a\tb\" }}",
            ),
            ("status == 200", "status == 200"),
        ] {
            assert_eq!(single_spaced(written), shown, "{written:?}");
        }
    }

    #[test]
    fn simple_singular_jsonpaths_walk_as_serde_json_path_queries() {
        let docs: Vec<serde_json::Value> = [
            r#"{"ok": true, "a": {"b": [10, {"c": "x"}, null], "": 1, "_k9": 2}, "items": [{"id": 7}, {"id": 8}]}"#,
            r#"[1, [2, 3], {"a": 4}]"#,
            r#"{"a": [], "b": {}, "items": "not a list"}"#,
            r#""text""#,
            r#"null"#,
        ]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
        let walked = [
            "$",
            "$.ok",
            "$.a",
            "$.a.b",
            "$.a.b[0]",
            "$.a.b[1].c",
            "$.a.b[2]",
            "$.a.b[3]",
            "$.a.b[-1]",
            "$.a.b[-3]",
            "$.a.b[-4]",
            "$.a['']",
            "$.a._k9",
            "$['a'][\"b\"][1]['c']",
            "$.items[0].id",
            "$.items[1].id",
            "$.items[2].id",
            "$.missing",
            "$.missing.deeper",
            "$[0]",
            "$[1][1]",
            "$[2].a",
            "$[-1]",
            "$[3]",
            "$.ok.not_an_object",
            "$.a[0]",
            "$['items'][0]",
            "$.items.id",
            "$[0].a",
            "$['a b']",
            "$['ok']",
            "$['é']",
        ];
        for path in walked {
            let steps = jsonpath_steps(path).unwrap_or_else(|| panic!("{path} is walked"));
            let query = serde_json_path::JsonPath::parse(path).unwrap();
            assert!(jsonpath_is_singular(path), "{path}");
            for doc in &docs {
                let expected = query.query(doc).first();
                assert_eq!(
                    crate::render::walk(doc, &steps),
                    expected,
                    "{path} on {doc}"
                );
            }
        }
        // Singular in the RFC's sense, but spelled in ways the walk leaves to serde_json_path.
        for path in [
            "$[ 0 ]",
            "$ .a",
            "$['a\\'b']",
            "$['\\u0061']",
            "$.é",
            "$['a]b']",
            "$.a .b",
        ] {
            assert!(serde_json_path::JsonPath::parse(path).is_ok(), "{path}");
            assert!(jsonpath_steps(path).is_none(), "{path}");
        }
        // Not singular: never walked.
        for path in [
            "$.*", "$..a", "$[*]", "$[0,1]", "$[0:2]", "$[?@.a]", "$.a[*].b",
        ] {
            assert!(serde_json_path::JsonPath::parse(path).is_ok(), "{path}");
            assert!(jsonpath_steps(path).is_none(), "{path}");
        }
    }

    #[test]
    fn singular_jsonpaths() {
        for (p, want) in [
            ("$", true),
            ("$.a.b", true),
            ("$.items[0].id", true),
            ("$['a'][\"b\"][-1]", true),
            ("$[ 0 ]", true),
            ("$.items[*]", false),
            ("$..id", false),
            ("$.*", false),
            ("$[0,1]", false),
            ("$[0:2]", false),
            ("$[?@.a]", false),
            ("$['a','b']", false),
        ] {
            assert!(serde_json_path::JsonPath::parse(p).is_ok(), "{p}");
            assert_eq!(jsonpath_is_singular(p), want, "{p}");
        }
    }

    #[test]
    fn paths_after_authority() {
        assert_eq!(path_of(""), "/");
        assert_eq!(path_of("?a=1"), "/?a=1");
        assert_eq!(path_of("/x"), "/x");
    }
}
