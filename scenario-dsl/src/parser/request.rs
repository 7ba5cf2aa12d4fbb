//! Requests: the request line, header lines, bodies (JSON, raw, form, file) and the
//! response clauses (`check`, `assert`, `capture`) with their queries and predicates.

use super::*;
use crate::source::trailing_run_start;

impl Parser<'_, '_> {
    // ----- requests ----------------------------------------------------------------------

    /// Parses a request starting at its method word; returns `None` (after consuming its
    /// headers, body and clauses) when the request line is wrong.
    pub(super) fn request(&mut self, method: &str, method_span: Span) -> Option<RequestAst> {
        let mut ok = true;
        let parsed_method = if METHODS.contains(&method) {
            http::Method::from_bytes(method.as_bytes()).ok()
        } else {
            let mut d = RawDiag::error(method_span, format!("unknown method `{method}`"));
            d = match did_you_mean(method, METHODS.iter().copied()) {
                Some(m) => d.label(format!("did you mean `{m}`?")),
                None => d
                    .label("not a method")
                    .help("methods are GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS"),
            };
            self.err(d);
            ok = false;
            None
        };
        self.lx.pos = method_span.end as usize;
        let target = match self.lx.read_target() {
            Ok(span) if span.start == span.end => {
                self.err(
                    RawDiag::error(method_span, "missing request target")
                        .label("expected a path or URL after the method")
                        .help("write `GET /path` or `GET http://host:port/path`"),
                );
                ok = false;
                None
            }
            Ok(span) => {
                let t = self.raw_template(span);
                ok &= t.is_some();
                t
            }
            Err(span) => {
                self.err(
                    RawDiag::error(span, "unclosed template `{{`")
                        .label("this template is never closed")
                        .help("close it with `}}` on the same line"),
                );
                ok = false;
                None
            }
        };
        let mut c = self.cursor_for_line();
        let mut name = None;
        if let Some(t) = c.next() {
            if t.is(&Tok::Ident) && self.text(t.span) == "as" {
                name = self.name(&mut c, "a request name after `as`");
                self.end_of_line(&mut c, "after the request name");
            } else if let Tok::Error(..) = t.tok {
                self.unexpected(&t, "");
            } else {
                self.err(
                    RawDiag::error(
                        t.span,
                        format!(
                            "unexpected {} after the request target",
                            describe(&t.tok, self.text(t.span))
                        ),
                    )
                    .label("expected `as NAME` or the end of the line")
                    .help("a target cannot contain spaces: percent-encode them as `%20`"),
                );
            }
        }
        let mut req = RequestAst {
            method: parsed_method.unwrap_or(http::Method::GET),
            target: target.unwrap_or(Template {
                pieces: Vec::new(),
                span: method_span,
            }),
            name,
            headers: Vec::new(),
            body: None,
            clauses: Vec::new(),
            span: Span::new(
                self.file,
                method_span.start as usize,
                method_span.end as usize,
            ),
        };
        req.span = req.span.to(req.target.span);
        self.request_tail(&mut req);
        if !ok {
            // Dropped (its line is wrong, and reported): what it captures is not reported
            // as undefined where it is read.
            for clause in &req.clauses {
                if let Clause::Capture { name, .. } = clause {
                    self.broken_names.push(name.name.clone());
                }
            }
        }
        ok.then_some(req)
    }

    /// Headers, body and response clauses following a request line.
    pub(super) fn request_tail(&mut self, req: &mut RequestAst) {
        loop {
            self.lx.skip_blank_lines();
            match self.classify() {
                LineKind::Header => {
                    if req.body.is_some() || !req.clauses.is_empty() {
                        let span = self.line_span();
                        self.err(
                            RawDiag::error(
                                span,
                                "a header must come before the body and the checks",
                            )
                            .label("header after the body or a check")
                            .help("move this header right under the request line"),
                        );
                    }
                    if let Some(h) = self.header_line() {
                        req.headers.push(h);
                    }
                }
                LineKind::JsonBody | LineKind::Fence => self.request_body(req),
                LineKind::Word(w, _)
                    if (w == "form" && self.lx.line_rest()[4..].trim_start().starts_with('{'))
                        || (w == "file"
                            && self.lx.line_rest()[4..].trim_start().starts_with('"')) =>
                {
                    self.request_body(req)
                }
                LineKind::Word(w, span) if w == "check" || w == "assert" || w == "capture" => {
                    if let Some(cl) = self.clause(&w, span) {
                        req.clauses.push(cl);
                    }
                }
                // An unknown word under a request (k6's `timeout`, a misspelt statement):
                // reported, and the request goes on, so that the checks below it are still
                // the request's and not each a second error.
                LineKind::Word(w, span)
                    if !STMT_KEYWORDS.contains(&w.as_str())
                        && !TOP_ONLY.contains(&w.as_str())
                        && !matches!(w.as_str(), "else" | "include" | "form" | "file")
                        && !self.lx.line_rest().trim_end().ends_with('{') =>
                {
                    let _ = self.stmt(&w, span);
                }
                // `Authorization Bearer x`: reported, and the request goes on, so that the
                // body below it is still the request's.
                LineKind::Word(..) | LineKind::Method(..) => {
                    if !self.header_typo_line() {
                        return;
                    }
                }
                _ => return,
            }
        }
    }

    pub(super) fn request_body(&mut self, req: &mut RequestAst) {
        let start = self.lx.pos;
        let misplaced = if req.body.is_some() {
            Some("a request has only one body")
        } else if !req.clauses.is_empty() {
            Some("the body must come before `check`, `assert` and `capture`")
        } else {
            None
        };
        let body = self.body();
        if let Some(msg) = misplaced {
            self.err(
                RawDiag::error(Span::new(self.file, start, start + 1), msg)
                    .label("unexpected body"),
            );
            return;
        }
        req.body = body;
    }

    /// Parses a body at the cursor: JSON, fenced raw text, `form { }` or `file "path"`.
    pub(super) fn body(&mut self) -> Option<BodyAst> {
        let rest = self.lx.line_rest();
        if rest.starts_with("```") {
            self.raw_body()
        } else if rest.starts_with('{') || rest.starts_with('[') {
            self.json_body()
        } else if rest.starts_with("form") {
            self.form_body()
        } else {
            self.file_body()
        }
    }

    pub(super) fn json_body(&mut self) -> Option<BodyAst> {
        let start = self.lx.pos;
        match scan_json(self.src(), start) {
            Ok(end) => {
                self.lx.pos = end;
                let span = Span::new(self.file, start, end);
                let mut c = self.cursor_for_line();
                self.end_of_line(&mut c, "after the JSON body");
                let pieces = self.json_pieces(span)?;
                Some(BodyAst::Json(pieces))
            }
            Err(JsonScanError::Unclosed { resume }) => {
                self.eof_reported |= resume >= self.src().len();
                let open = Span::new(self.file, start, start + 1);
                let ch = &self.src()[start..start + 1];
                self.err(
                    RawDiag::error(open, "unclosed JSON body")
                        .label(format!("this `{ch}` is never closed"))
                        .help(format!(
                            "close the body with `{}` before the next statement",
                            if ch == "{" { "}" } else { "]" }
                        )),
                );
                self.lx.pos = resume;
                None
            }
            Err(JsonScanError::Template(at)) => {
                let span = Span::new(
                    self.file,
                    at,
                    self.src()[at..]
                        .find('\n')
                        .map(|i| at + i)
                        .unwrap_or(self.src().len()),
                );
                self.err(
                    RawDiag::error(span, "unclosed template `{{`")
                        .label("this template is never closed")
                        .help("close it with `}}` on the same line"),
                );
                self.lx.pos = span.end as usize;
                self.lx.eat_newline();
                None
            }
        }
    }

    /// Splits a JSON body into literal text and templates (knowing which sit in strings),
    /// parses the templates, and validates the JSON with placeholders in the holes.
    pub(super) fn json_pieces(&mut self, span: Span) -> Option<Vec<JsonPiece>> {
        let src = self.src();
        let (start, end) = (span.start as usize, span.end as usize);
        let bytes = src.as_bytes();
        let mut pieces = Vec::new();
        let mut check = String::with_capacity(end - start);
        let mut lit_start = start;
        let mut in_string = false;
        let mut i = start;
        let mut ok = true;
        // Templates outside quotes: JSON values of their own.
        let mut bare_templates = Vec::new();
        while i < end {
            let b = bytes[i];
            if b == b'{' && bytes.get(i + 1) == Some(&b'{') && bytes.get(i + 2) != Some(&b'{') {
                let close = scan_template(src, i, end).unwrap_or(end);
                if !in_string {
                    bare_templates.push(i);
                    // `1{{s}}`, `-{{n}}`, `2.{{x}}`: the placeholder below would make one
                    // valid number of them, and the value rendered after the sign or the
                    // digits makes the body invalid JSON (`1"abc"`, `--3`).
                    if let Some(number) = glued_number(src, start, i) {
                        let glued = &src[number..close];
                        self.err(
                            RawDiag::error(
                                Span::new(self.file, number, close),
                                "a template outside quotes cannot be glued to a number",
                            )
                            .label(format!("`{glued}` is not one JSON value"))
                            .help(format!(
                                "a template outside quotes stands for a whole JSON value: write \
                                 the whole value as one template, or put it in quotes for a \
                                 string: `\"{glued}\"`"
                            )),
                        );
                    }
                }
                if lit_start < i {
                    pieces.push(JsonPiece::Lit(without_crlf(src[lit_start..i].to_string())));
                    self.dollar_templates_in(Span::new(self.file, lit_start, i));
                }
                check.push_str(&src[lit_start..i]);
                let whole = Span::new(self.file, i, close);
                let inner = Span::new(self.file, i + 2, close.saturating_sub(2).max(i + 2));
                match parse_template_expr(src, inner, self.diags) {
                    Some(expr) => pieces.push(JsonPiece::Expr {
                        expr,
                        in_string,
                        span: whole,
                    }),
                    None => ok = false,
                }
                // Same byte length, so serde_json's error positions map back to the source.
                let len = close - i;
                if in_string {
                    check.extend(std::iter::repeat_n('x', len));
                } else {
                    check.push('0');
                    check.extend(std::iter::repeat_n(' ', len - 1));
                }
                i = close;
                lit_start = i;
                continue;
            }
            if in_string {
                if b == b'\\' {
                    i += 2;
                    continue;
                }
                if b == b'"' {
                    in_string = false;
                }
            } else if b == b'"' {
                in_string = true;
            }
            i += 1;
        }
        let i = i.min(end);
        if lit_start < i {
            pieces.push(JsonPiece::Lit(without_crlf(src[lit_start..i].to_string())));
            self.dollar_templates_in(Span::new(self.file, lit_start, i));
            check.push_str(&src[lit_start..i]);
        }
        let error = match serde_json::from_str::<serde_json::Value>(&check) {
            Err(e) => {
                let msg = e.to_string();
                let msg = match msg.rfind(" at line ") {
                    Some(k) => msg[..k].to_string(),
                    None => msg,
                };
                Some((json_error_offset(&check, e.line(), e.column()), msg))
            }
            // serde_json keeps a number's text, so it reads `1e400`; no server's `f64` does.
            Ok(_) => number_out_of_range(&check).map(|at| (at, "number out of range".into())),
        };
        if let Some((offset, msg)) = error {
            let at = start + offset;
            let at = floor_char_boundary(src, at.min(end.saturating_sub(1)));
            // serde_json points at the last character it read: the caret goes to the start
            // of the bad token (the `\` of an escape, the first character of a number).
            // Up to and with the character at `at` (which may be wider than one byte).
            let through_at = at + src[at..].chars().next().map_or(0, char::len_utf8);
            let at = if msg.starts_with("invalid escape") || msg.starts_with("invalid unicode") {
                src[start..through_at].rfind('\\').map_or(at, |k| start + k)
            } else if msg.starts_with("number out of range") || msg.starts_with("invalid number") {
                let token = start
                    + trailing_run_start(&src[start..through_at], |c| {
                        c.is_ascii_digit() || "+-.eE".contains(c)
                    });
                token.min(at)
            } else {
                at
            };
            let next = src[at..].chars().next().map(char::len_utf8).unwrap_or(1);
            // A word where a value goes (`tru`, `falsy`, `True`, `undefined`): serde_json
            // stops inside or after it; the caret goes under the whole word.
            // (A word glued to a template, `bot{{worker}}`, gets the template hint below.)
            let word = if msg.starts_with("expected ident") || msg.starts_with("expected value") {
                word_around(src, start, end, at).filter(|&(_, we)| !src[we..].starts_with("{{"))
            } else {
                None
            };
            let mut d = match word {
                Some((ws, we)) => {
                    let w = &src[ws..we];
                    let literal = match w.to_ascii_lowercase().as_str() {
                        "true" => Some("true"),
                        "false" => Some("false"),
                        "null" | "none" | "nil" | "undefined" => Some("null"),
                        lower => did_you_mean(lower, ["true", "false", "null"]),
                    };
                    let d = RawDiag::error(Span::new(self.file, ws, we), "invalid JSON body");
                    match literal {
                        Some(l) => d
                            .label(format!("`{w}` is not a JSON value: did you mean `{l}`?"))
                            .help("JSON's literals are `true`, `false` and `null`, in lowercase"),
                        None => d.label(format!("`{w}` is not a JSON value")).help(format!(
                            "a JSON value is a string in quotes (`\"{w}\"`), a number, \
                             `true`, `false`, `null`, an object or a list"
                        )),
                    }
                }
                None => RawDiag::error(Span::new(self.file, at, at + next), "invalid JSON body")
                    .label(msg),
            };
            // The template hint only where a template stands outside quotes on this line.
            let line_start = src[..at].rfind('\n').map_or(0, |k| k + 1);
            let line_end = src[at..].find('\n').map_or(src.len(), |k| at + k);
            if word.is_none()
                && bare_templates
                    .iter()
                    .any(|t| (line_start..line_end).contains(t))
            {
                d = d.help(
                    "a template outside quotes stands for a whole JSON value; put `{{ }}` inside \
                     quotes for a string: `\"bot{{worker}}\"`",
                );
            }
            self.err(d);
        }
        // With the JSON wrong (reported), the templates are still lowered: an undefined
        // variable in them is reported in the same round.
        ok.then_some(pieces)
    }

    pub(super) fn raw_body(&mut self) -> Option<BodyAst> {
        let fence_start = self.lx.pos;
        let fence = Span::new(self.file, fence_start, fence_start + 3);
        let after = self.lx.line_rest()[3..].trim();
        if !after.is_empty() && !after.starts_with('#') {
            self.err(
                RawDiag::error(fence, "unexpected text after the opening ```")
                    .label("the raw body starts on the next line")
                    .help("set the content type with a header, like `Content-Type: text/plain`"),
            );
        }
        self.lx.skip_line();
        let body_start = self.lx.pos;
        let mut body_end = body_start;
        let fence_indent;
        loop {
            if self.lx.at_eof() {
                self.eof_reported = true;
                self.err(
                    RawDiag::error(fence, "unclosed raw body")
                        .label("this ``` is never closed")
                        .help("end the body with a line holding only ```"),
                );
                return None;
            }
            let line = self.lx.line_rest();
            if line.trim() == "```" {
                fence_indent = indentation(line).to_string();
                self.lx.skip_line();
                break;
            }
            self.lx.skip_line();
            body_end = self.lx.pos;
        }
        // The body is the lines between the fences, without the last line's terminator.
        let text = &self.src()[body_start..body_end];
        let trimmed = text.strip_suffix('\n').unwrap_or(text);
        let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
        let span = Span::new(self.file, body_start, body_start + trimmed.len());
        let t = self.raw_text_template(span)?;
        // Lines are joined with `\n` whatever the file's line endings: a CRLF file sends
        // the same bytes as an LF one (a CR elsewhere is text and stays).
        let pieces: Vec<TPiece> = t
            .pieces
            .into_iter()
            .map(|p| match p {
                TPiece::Lit(s, sp) => TPiece::Lit(without_crlf(s), sp),
                other => other,
            })
            .collect();
        // The indentation the lines share with the closing fence is the block's, not the
        // body's (a heredoc's `<<~`).
        let indent = common_indentation(trimmed, &fence_indent);
        let pieces = if indent.is_empty() {
            pieces
        } else {
            dedent(pieces, indent)
        };
        Some(BodyAst::Raw(Template {
            pieces,
            span: fence.to(span),
        }))
    }

    pub(super) fn form_body(&mut self) -> Option<BodyAst> {
        let start = self.lx.pos;
        let kw = Span::new(self.file, start, start + 4);
        self.lx.pos += 4;
        self.lx.skip_spaces();
        if self.lx.peek_char() != Some('{') {
            self.err(
                RawDiag::error(kw, "expected `{` after `form`")
                    .label("a form body is `form { name: value }`"),
            );
            self.lx.skip_line();
            return None;
        }
        self.lx.pos += 1;
        self.lx.skip_spaces();
        let mut fields = Vec::new();
        let mut ok = true;
        // One-line form: `form { a: 1, b: {{x}} }`.
        if !self.lx.at_newline() && self.lx.peek_char() != Some('#') {
            let line_end = self.lx.pos + self.lx.line_rest().len();
            let Some(close) = find_unquoted(self.src(), self.lx.pos, line_end, b'}') else {
                self.err(
                    RawDiag::error(kw, "unclosed form body")
                        .label("this `form {` is never closed")
                        .help("close a one-line form with `}`, or put each field on its own line"),
                );
                self.lx.skip_line();
                return None;
            };
            let mut field_start = self.lx.pos;
            while field_start < close {
                let comma = find_unquoted(self.src(), field_start, close, b',').unwrap_or(close);
                let field = Span::new(self.file, field_start, comma);
                if !self.text(field).trim().is_empty() {
                    match self.form_field(field) {
                        Some(f) => fields.push(f),
                        None => ok = false,
                    }
                }
                field_start = comma + 1;
            }
            self.lx.pos = close + 1;
            let mut c = self.cursor_for_line();
            self.end_of_line(&mut c, "after the form");
            return ok.then_some(BodyAst::Form(fields));
        }
        self.lx.skip_line();
        loop {
            self.lx.skip_blank_lines();
            let rest = self.lx.line_rest();
            if self.lx.at_eof() || starts_statement(rest) {
                self.err(
                    RawDiag::error(kw, "unclosed form body")
                        .label("this `form {` is never closed")
                        .help("end the form with a line holding only `}`"),
                );
                return None;
            }
            if rest.starts_with('}') {
                self.lx.pos += 1;
                let mut c = self.cursor_for_line();
                self.end_of_line(&mut c, "after `}`");
                break;
            }
            let line_start = self.lx.pos;
            let mut lx2 = Lexer::new(self.src(), self.file);
            lx2.pos = line_start;
            let value_end = match lx2.read_value() {
                Ok(s) => s.end as usize,
                Err(s) => s.end as usize,
            };
            match self.form_field(Span::new(self.file, line_start, value_end)) {
                Some(f) => fields.push(f),
                None => ok = false,
            }
            self.lx.skip_line();
        }
        ok.then_some(BodyAst::Form(fields))
    }

    pub(super) fn form_field(&mut self, span: Span) -> Option<FormField> {
        let text = self.text(span);
        let lead = text.len() - text.trim_start().len();
        let start = span.start as usize + lead;
        let Some(colon) = find_unquoted(self.src(), start, span.end as usize, b':') else {
            let s = Span::new(self.file, start, span.end as usize);
            self.err(
                RawDiag::error(s, "expected `name: value` in the form")
                    .label("no `:` in this field"),
            );
            return None;
        };
        let name_text = self.src()[start..colon].trim_end();
        if name_text.is_empty() {
            self.err(
                RawDiag::error(
                    Span::new(self.file, start, colon + 1),
                    "missing form field name",
                )
                .label("expected a name before `:`"),
            );
            return None;
        }
        let mut vstart = colon + 1;
        while self
            .src()
            .as_bytes()
            .get(vstart)
            .is_some_and(|b| *b == b' ' || *b == b'\t')
        {
            vstart += 1;
        }
        let vend = vstart.max(span.start as usize + text.trim_end().len());
        let vspan = Span::new(self.file, vstart, vend);
        let value = if vstart < vend
            && self.src()[vstart..vend].starts_with('"')
            && self.src()[vstart..vend].ends_with('"')
            && vend - vstart >= 2
        {
            self.string_template(vspan)?
        } else {
            self.raw_template(vspan)?
        };
        // The name is a template too (`{{field}}: x`), rendered and encoded as a value is.
        let name_span = Span::new(self.file, start, start + name_text.len());
        let name = self.raw_template(name_span)?;
        Some(FormField { name, value })
    }

    pub(super) fn file_body(&mut self) -> Option<BodyAst> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        match c.next() {
            Some(t) if t.is(&Tok::Str) => {
                let path = self.plain_str(t.span)?;
                self.end_of_line(&mut c, "after the file path");
                Some(BodyAst::File(path, t.span))
            }
            Some(t) => {
                self.unexpected(&t, "a quoted path");
                None
            }
            None => {
                self.err(
                    RawDiag::error(kw, "expected a quoted path after `file`")
                        .label("expected \"path\""),
                );
                None
            }
        }
    }

    /// `Name: value` at the cursor (after indentation); consumes the line.
    pub(super) fn header_line(&mut self) -> Option<HeaderAst> {
        let start = self.lx.pos;
        let rest = self.lx.line_rest();
        let colon = rest.find(':')?;
        let name = rest[..colon].to_string();
        let name_span = Span::new(self.file, start, start + colon);
        self.lx.pos = start + colon + 1;
        let value = match self.lx.read_value() {
            Ok(span) => {
                let bad = self.forbidden_in_header(span, &name);
                match self.raw_template(span) {
                    Some(t) if !bad => Some(t),
                    _ => None,
                }
            }
            Err(span) => {
                self.unclosed_template(span);
                None
            }
        };
        self.finish_line();
        Some(HeaderAst {
            name,
            name_span,
            value: value?,
        })
    }

    /// Reports a control character (but tab) or DEL in the header value at `span`; true
    /// when there is one. A CR right before the LF ends the line (CRLF files); any other CR,
    /// or another control character, could never be sent: it would fail every request at
    /// run time (RFC 9110 section 5.5). (A NUL byte is refused for the whole file.)
    fn forbidden_in_header(&mut self, span: Span, name: &str) -> bool {
        let Some(i) = self
            .text(span)
            .bytes()
            .position(crate::render::header_forbids)
        else {
            return false;
        };
        let at = span.start as usize + i;
        let here = Span::new(self.file, at, at + 1);
        let d = match self.src().as_bytes()[at] {
            b'\r' => RawDiag::error(here, "a header value cannot contain a carriage return (CR)")
                .label(format!("CR in the value of `{name}`"))
                .help(
                    "a header value is one line of text: remove this character (the file may \
                     mix line endings)",
                ),
            b => RawDiag::error(here, "a header value cannot contain a control character")
                .label(format!(
                    "{} in the value of `{name}`",
                    crate::render::control_name(b)
                ))
                .help(
                    "tab is the only control character a header value may hold (RFC 9110, \
                     section 5.5): remove this one",
                ),
        };
        self.err(d);
        true
    }

    fn unclosed_template(&mut self, span: Span) {
        self.err(
            RawDiag::error(span, "unclosed template `{{`")
                .label("this template is never closed")
                .help("close it with `}}` on the same line"),
        );
    }

    /// Reads a raw value to the end of the line as a template.
    pub(super) fn raw_value_template(&mut self) -> Option<Template> {
        match self.lx.read_value() {
            Ok(span) => self.raw_template(span),
            Err(span) => {
                self.unclosed_template(span);
                None
            }
        }
    }

    pub(super) fn clause(&mut self, word: &str, _span: Span) -> Option<Clause> {
        let mut c = self.cursor_for_line();
        let kw = c.next()?.span;
        // A capture's name is checked first: `capture 1x = ...` is an invalid name.
        if word != "capture" && self.lex_error(&c) {
            return None;
        }
        match word {
            "check" | "assert" => {
                let p = self.predicate(&mut c)?;
                self.end_of_line(&mut c, "after the predicate");
                Some(if word == "check" {
                    Clause::Check(p)
                } else {
                    Clause::Assert(p)
                })
            }
            _ => {
                let optional = match c.peek() {
                    Some(t) if t.is(&Tok::Question) && t.span.start == kw.end => {
                        c.next();
                        true
                    }
                    _ => false,
                };
                let name = self.name(&mut c, "a variable name")?;
                let Some(query) = self.capture_query(&mut c) else {
                    // Reported: the reads of the name below are not reported as undefined.
                    self.broken_names.push(name.name);
                    return None;
                };
                let count = self.eat_word(&mut c, "count");
                self.end_of_line(&mut c, "after the query");
                Some(Clause::Capture {
                    span: kw.to(query.span()),
                    name,
                    optional,
                    query,
                    count,
                })
            }
        }
    }

    /// `= QUERY` after the name of a `capture`.
    fn capture_query(&mut self, c: &mut Cursor) -> Option<QueryAst> {
        if !self.assign_eq(c, "a query") {
            return None;
        }
        self.query(c)
    }

    pub(super) fn eat_word(&mut self, c: &mut Cursor, word: &str) -> bool {
        if c.peek()
            .is_some_and(|t| t.is(&Tok::Ident) && self.text(t.span) == word)
        {
            c.next();
            true
        } else {
            false
        }
    }

    pub(super) fn query(&mut self, c: &mut Cursor) -> Option<QueryAst> {
        let Some(t) = c.peek().cloned() else {
            self.expected_at_end(
                c,
                "a query (`status`, `header \"Name\"`, `jsonpath \"$.x\"`, ...)",
            );
            return None;
        };
        if !t.is(&Tok::Ident) {
            self.unexpected(
                &t,
                "a query (`status`, `header \"Name\"`, `jsonpath \"$.x\"`, ...)",
            );
            return None;
        }
        let word = self.text(t.span);
        let with_string = |p: &mut Self, c: &mut Cursor, what: &str| -> Option<(String, Span)> {
            c.next();
            match c.next() {
                Some(s) if s.is(&Tok::Str) => {
                    let v = if what == "regex" {
                        regex_string(p.src(), s.span)
                    } else {
                        p.plain_str(s.span)?
                    };
                    if p.text(s.span).contains("{{") {
                        p.err(
                            RawDiag::error(s.span, format!("a {what} cannot contain templates"))
                                .label("must be a fixed string")
                                .help("capture the value first and compare it in a check"),
                        );
                        return None;
                    }
                    Some((v, s.span))
                }
                Some(s) => {
                    p.unexpected(&s, &format!("a quoted {what}"));
                    None
                }
                None => {
                    p.expected_at_end(c, &format!("a quoted {what}"));
                    None
                }
            }
        };
        Some(match word {
            "status" => {
                c.next();
                QueryAst::Status(t.span)
            }
            "duration" => {
                c.next();
                QueryAst::Duration(t.span)
            }
            "body" => {
                c.next();
                QueryAst::Body(t.span)
            }
            "header" => {
                let (v, s) = with_string(self, c, "header name")?;
                QueryAst::Header(v, t.span.to(s))
            }
            "jsonpath" => {
                let (v, s) = with_string(self, c, "JSONPath")?;
                QueryAst::JsonPath(v, s)
            }
            "regex" => {
                let (v, s) = with_string(self, c, "regex")?;
                QueryAst::Regex(v, s)
            }
            _ => QueryAst::Var(self.path(c)?),
        })
    }

    pub(super) fn predicate(&mut self, c: &mut Cursor) -> Option<PredAst> {
        let start = c.here();
        if c.peek()
            .is_some_and(|t| t.is(&Tok::Ident) && self.text(t.span) == "not")
        {
            let t = c.peek()?.clone();
            self.err(
                RawDiag::error(t.span, "`not` goes before the operator")
                    .label("write the query first")
                    .help("for example `jsonpath \"$.error\" not exists` or `body not contains \"fail\"`"),
            );
            return None;
        }
        let query = self.query(c)?;
        let count = self.eat_word(c, "count");
        let negate = self.eat_word(c, "not");
        let Some(t) = c.next() else {
            self.expected_at_end(
                c,
                "an operator (`==`, `<`, `in`, `contains`, `exists`, ...)",
            );
            return None;
        };
        let op = if let Some(cmp) = cmp_op(&t.tok) {
            OpAst::Cmp(cmp, self.value(c)?)
        } else if t.is(&Tok::Ident) {
            match self.text(t.span) {
                "in" => {
                    let v = self.value(c)?;
                    if c.peek().is_some_and(|t| t.is(&Tok::Comma)) {
                        self.list_without_brackets(c, v.span());
                        return None;
                    }
                    OpAst::In(v)
                }
                "contains" => OpAst::Contains(self.value(c)?),
                "startswith" => OpAst::StartsWith(self.value(c)?),
                "endswith" => OpAst::EndsWith(self.value(c)?),
                "exists" => OpAst::Exists,
                "matches" => match c.next() {
                    Some(s) if s.is(&Tok::Str) => {
                        OpAst::Matches(regex_string(self.src(), s.span), s.span)
                    }
                    Some(s) => {
                        self.unexpected(&s, "a quoted regex");
                        return None;
                    }
                    None => {
                        self.expected_at_end(c, "a quoted regex");
                        return None;
                    }
                },
                w => {
                    let ops = [
                        "in",
                        "contains",
                        "startswith",
                        "endswith",
                        "matches",
                        "exists",
                        "count",
                        "not",
                    ];
                    let mut d = RawDiag::error(t.span, format!("unknown operator `{w}`"));
                    d = match did_you_mean(w, ops) {
                        Some(s) => d.label(format!("did you mean `{s}`?")),
                        None => d.label("not an operator").help(
                            "operators are `== != < <= > >=`, `in`, `contains`, `startswith`, `endswith`, `matches`, `exists`",
                        ),
                    };
                    self.err(d);
                    return None;
                }
            }
        } else if t.is(&Tok::Eq) {
            let fixed = self.line_with(c, t.span, "==");
            self.unexpected_help(
                &t,
                "an operator (`==`, `<`, `in`, `contains`, `exists`, ...)",
                format!(
                    "use `==`: `=` assigns (in `let` and `capture`), `==` compares: write `{fixed}`"
                ),
            );
            return None;
        } else {
            self.unexpected(
                &t,
                "an operator (`==`, `<`, `in`, `contains`, `exists`, ...)",
            );
            return None;
        };
        let end = c
            .toks
            .get(c.i.wrapping_sub(1))
            .map(|t| t.span)
            .unwrap_or(start);
        Some(PredAst {
            query,
            count,
            negate,
            op,
            span: start.to(end),
        })
    }
}

pub(super) enum JsonScanError {
    /// The body never closed; parsing resumes at `resume`.
    Unclosed { resume: usize },
    /// A `{{` never closed on its line.
    Template(usize),
}

/// Finds the end of a JSON body starting at `start` (a `{` or `[`): brackets balance,
/// strings and templates are skipped whole. A line that starts with a statement keyword
/// while brackets are still open ends the scan as unclosed.
pub(super) fn scan_json(src: &str, start: usize) -> Result<usize, JsonScanError> {
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    let mut in_string = false;
    let mut line_start = true;
    while i < bytes.len() {
        let b = bytes[i];
        if line_start && i > start && !in_string {
            let rest = &src[i..];
            let trimmed = rest.trim_start_matches([' ', '\t']);
            if starts_statement(trimmed) || trimmed.starts_with("```") {
                return Err(JsonScanError::Unclosed { resume: i });
            }
        }
        line_start = false;
        if b == b'{' && bytes.get(i + 1) == Some(&b'{') && bytes.get(i + 2) != Some(&b'{') {
            match scan_template(src, i, src.len()) {
                // A body that is one template (`{{payload}}`): a JSON value of its own.
                Ok(e) if depth == 0 => return Ok(e),
                Ok(e) => {
                    i = e;
                    continue;
                }
                Err(_) => return Err(JsonScanError::Template(i)),
            }
        }
        if in_string {
            match b {
                b'\\' => {
                    i += 2;
                    continue;
                }
                b'"' => in_string = false,
                b'\n' => {
                    // JSON strings do not span lines; let the validator report it.
                    in_string = false;
                    line_start = true;
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(i + 1);
                    }
                }
                b'\n' => line_start = true,
                _ => {}
            }
        }
        i += 1;
    }
    Err(JsonScanError::Unclosed { resume: src.len() })
}

/// The start of the number that ends right before the template at `template` in the JSON
/// body starting at `start` (`1` in `1{{s}}`, `-` in `-{{s}}`, `2.` in `2.{{s}}`), if one
/// is glued to it.
fn glued_number(src: &str, start: usize, template: usize) -> Option<usize> {
    let token = start
        + trailing_run_start(&src[start..template], |c| {
            c.is_ascii_alphanumeric() || "+-.".contains(c)
        });
    let first = src[token..template].chars().next()?;
    (first.is_ascii_digit() || first == '-').then_some(token)
}

/// The word (ASCII letters, digits, `_`, starting with a letter) at or right before `at` in
/// `src[start..end]`, as a byte range.
fn word_around(src: &str, start: usize, end: usize, at: usize) -> Option<(usize, usize)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let on_word = src[at..end].starts_with(is_word);
    if !on_word && !src[start..at].ends_with(is_word) {
        return None;
    }
    let ws = start + trailing_run_start(&src[start..at], is_word);
    let we = src[ws..end]
        .find(|c: char| !is_word(c))
        .map_or(end, |k| ws + k);
    src[ws..we]
        .starts_with(|c: char| c.is_ascii_alphabetic())
        .then_some((ws, we))
}

/// Byte offset in `text` of serde_json's 1-based (line, column).
pub(super) fn json_error_offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (n, l) in text.split_inclusive('\n').enumerate() {
        if n + 1 == line {
            return offset + column.saturating_sub(1).min(l.len());
        }
        offset += l.len();
    }
    text.len()
}

/// The byte offset of the first number in the JSON document `text` (valid JSON) whose
/// magnitude is beyond `f64`'s range (`1e400`, `-12.5e9999`).
fn number_out_of_range(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while bytes
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
            {
                i += 1;
            }
            if text[start..=i].parse::<f64>().is_ok_and(f64::is_infinite) {
                return Some(start);
            }
        }
        i += 1;
    }
    None
}

/// The spaces and tabs that start `line`.
fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

/// The indentation of the raw body `text` to remove: the longest run of spaces and tabs
/// that starts every line holding more than spaces and tabs, and `fence` (the closing
/// fence's indentation).
fn common_indentation<'a>(text: &str, fence: &'a str) -> &'a str {
    let mut common = fence;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim_start_matches([' ', '\t']).is_empty() {
            continue;
        }
        let shared = common
            .bytes()
            .zip(indentation(line).bytes())
            .take_while(|(a, b)| a == b)
            .count();
        common = &common[..shared];
    }
    common
}

/// Removes `indent` from the start of each line of a raw body's literal text (a line of
/// spaces and tabs only loses what it shares with `indent`). Every line holding more than
/// spaces and tabs starts with `indent` ([`common_indentation`]); a template's value is not
/// a line of the plan and keeps its text.
fn dedent(pieces: Vec<TPiece>, indent: &str) -> Vec<TPiece> {
    let mut at_line_start = true;
    pieces
        .into_iter()
        .map(|p| match p {
            TPiece::Lit(text, span) => {
                let mut out = String::with_capacity(text.len());
                let mut rest = text.as_str();
                while !rest.is_empty() {
                    if at_line_start {
                        let shared = indent
                            .bytes()
                            .zip(indentation(rest).bytes())
                            .take_while(|(a, b)| a == b)
                            .count();
                        rest = &rest[shared..];
                    }
                    let line_end = rest.find('\n').map_or(rest.len(), |i| i + 1);
                    out.push_str(&rest[..line_end]);
                    at_line_start = rest[..line_end].ends_with('\n');
                    rest = &rest[line_end..];
                }
                TPiece::Lit(out, span)
            }
            expr => {
                at_line_start = false;
                expr
            }
        })
        .collect()
}

/// `text` with each CRLF line ending turned into LF.
fn without_crlf(text: String) -> String {
    if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

pub(super) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
