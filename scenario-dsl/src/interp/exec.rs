//! Running a block: the op loop, and rendering, sending and checking one request.

use super::*;

fn fail<R: Recorder>(
    rec: &mut R,
    kind: FailureKind,
    request: Option<RequestId>,
    location: &Location,
    message: &str,
) -> RunOutcome {
    rec.failure(&Failure {
        kind,
        request,
        check: None,
        location,
        status: None,
        message,
    });
    RunOutcome::Failure
}

impl State {
    /// The variables to evaluate with, and the buffers evaluation may use.
    fn eval_parts(&mut self) -> (EvalEnv<'_>, Scratch<'_>) {
        let env = EvalEnv {
            slots: &self.slots,
            ids: self.ids,
        };
        let scratch = Scratch {
            rng: &mut self.rng,
            text: &mut self.scratch,
            buf: &mut self.text,
        };
        (env, scratch)
    }

    /// Renders `template` into `self.text`; `Err` is the message of a render failure.
    fn render_text(&mut self, template: &crate::code::TemplateCode) -> Result<(), String> {
        self.text.clear();
        let (env, s) = self.eval_parts();
        render_template(s.buf, template, &env, s.rng, s.text).map_err(|e| render_message(&e))
    }
}

/// How many rounds of a loop run between two [`Driver::pause`]s.
const PAUSE_EVERY: u32 = 64;

/// A loop went round. One that sends nothing and thinks nothing never waits, so every
/// [`PAUSE_EVERY`] rounds it lets the driver pause it; true when the run should stop there.
async fn round<D: Driver>(rounds: &mut u32, driver: &mut D) -> bool {
    *rounds = rounds.wrapping_add(1);
    if rounds.is_multiple_of(PAUSE_EVERY) {
        driver.pause().await;
        return driver.should_stop();
    }
    false
}

pub(super) async fn exec<D: Driver, R: Recorder>(
    program: &Program,
    st: &mut State,
    block: &BlockCode,
    driver: &mut D,
    rec: &mut R,
) -> RunOutcome {
    for slot in &mut st.slots[block.locals_start as usize..block.locals_end as usize] {
        *slot = None;
    }
    let mut pc = block.entry as usize;
    // How many times a loop (`repeat`, `for`: the only jumps back) went round: see [`round`].
    let mut rounds = 0u32;
    loop {
        let Some(op) = program.ops.get(pc) else {
            return RunOutcome::Success;
        };
        pc += 1;
        match op {
            Op::End => return RunOutcome::Success,
            Op::Send(id) => {
                if driver.should_stop() {
                    return RunOutcome::Stopped;
                }
                if send(program, st, *id, driver, rec).await.is_err() {
                    return RunOutcome::Failure;
                }
            }
            Op::Think { min, max } => {
                if driver.should_stop() {
                    return RunOutcome::Stopped;
                }
                let d = if min >= max {
                    *min
                } else {
                    let lo = min.as_nanos().min(u64::MAX as u128) as u64;
                    let hi = max.as_nanos().min(u64::MAX as u128) as u64;
                    Duration::from_nanos(st.rng.random_range(lo..=hi))
                };
                driver.sleep(d).await;
                // A think cut short by the end of the run did not finish: the run is stopped
                // (also when it was the block's last statement).
                if driver.should_stop() {
                    return RunOutcome::Stopped;
                }
            }
            Op::Jump(t) => pc = *t as usize,
            Op::Branch { cond, otherwise } => {
                let (env, mut s) = st.eval_parts();
                let v = test_pred::<NoResponse>(cond, None, &env, &mut s, false);
                if !v.passed {
                    pc = *otherwise as usize;
                }
            }
            Op::RepeatStart { counter, count } => st.counters[*counter as usize] = *count,
            Op::RepeatNext { counter, body } => {
                let c = &mut st.counters[*counter as usize];
                *c = c.saturating_sub(1);
                if *c > 0 {
                    pc = *body as usize;
                    if round(&mut rounds, driver).await {
                        return RunOutcome::Stopped;
                    }
                }
            }
            Op::ForStart {
                counter,
                list,
                var,
                exit,
                location,
            }
            | Op::ForNext {
                counter,
                list,
                var,
                body: exit,
                location,
            } => {
                let start = matches!(op, Op::ForStart { .. });
                if start {
                    st.counters[*counter as usize] = 0;
                }
                let index = st.counters[*counter as usize] as usize;
                let (env, s) = st.eval_parts();
                let item = match eval(list, &env, s.rng, s.text) {
                    Ok(Evaluated::Ref(Value::Array(items))) => items.get(index).cloned(),
                    Ok(Evaluated::Owned(Value::Array(items))) => items.get(index).cloned(),
                    Ok(other) => {
                        let msg = format!("`for` needs a list, got {}", describe_eval(&other));
                        return fail(rec, FailureKind::Render, None, location, &msg);
                    }
                    Err(e) => {
                        return fail(rec, FailureKind::Render, None, location, &e.to_string());
                    }
                };
                match item {
                    Some(v) => {
                        st.slots[*var as usize] = Some(v);
                        st.counters[*counter as usize] += 1;
                        if !start {
                            pc = *exit as usize;
                            if round(&mut rounds, driver).await {
                                return RunOutcome::Stopped;
                            }
                        }
                    }
                    None => {
                        if start {
                            pc = *exit as usize;
                        }
                    }
                }
            }
            Op::Sticky {
                name,
                value,
                remove,
                location,
            } => {
                if let Err(e) = st.render_text(value) {
                    return fail(rec, FailureKind::Render, None, location, &e);
                }
                // The same header, whatever the case of its name.
                let existing = st.sticky.iter().position(|(n, _)| n == name);
                // The generation (part of `cache_key`) moves only when the headers change
                // (a value, or the spelling of the name that is sent). A value that renders
                // empty is sent empty, as in `defaults` or a request's own header line.
                let changed = match (existing, *remove) {
                    (Some(i), true) => {
                        st.sticky.remove(i);
                        true
                    }
                    (Some(i), false)
                        if st.sticky[i].1 == st.text
                            && st.sticky[i].0.spelling == name.spelling =>
                    {
                        false
                    }
                    (Some(i), false) => {
                        let (n, v) = &mut st.sticky[i];
                        *n = *name;
                        v.clear();
                        v.extend_from_slice(&st.text);
                        true
                    }
                    (None, true) => false,
                    (None, false) => {
                        st.sticky.push((*name, st.text.clone()));
                        true
                    }
                };
                st.sticky_gen += u64::from(changed);
            }
            Op::Set {
                slot,
                value,
                location,
            } => {
                let v = match value {
                    SetCode::Const(v) => Ok(v.clone()),
                    SetCode::Expr(e) => {
                        let (env, s) = st.eval_parts();
                        eval(e, &env, s.rng, s.text)
                            .map(|v| v.to_value(s.text))
                            .map_err(|e| e.to_string())
                    }
                    SetCode::Text(t) => st
                        .render_text(t)
                        .map(|()| Value::String(String::from_utf8_lossy(&st.text).into_owned())),
                };
                match v {
                    Ok(v) => st.slots[*slot as usize] = Some(v),
                    Err(msg) => return fail(rec, FailureKind::Render, None, location, &msg),
                }
            }
            Op::Log { message, location } => {
                if let Err(e) = st.render_text(message) {
                    return fail(rec, FailureKind::Render, None, location, &e);
                }
                rec.log(&String::from_utf8_lossy(&st.text));
            }
        }
    }
}

fn describe_eval(v: &Evaluated<'_>) -> &'static str {
    match v {
        Evaluated::Ref(v) => crate::render::json_kind(v),
        Evaluated::Owned(v) => crate::render::json_kind(v),
        Evaluated::Int(_) => "a number",
        Evaluated::Scratch => "a string",
    }
}

fn render_message(e: &RenderError) -> String {
    e.to_string()
}

/// A response type for predicates that read no response (`if` conditions).
struct NoResponse;

impl ResponseView for NoResponse {
    fn status(&self) -> u16 {
        0
    }
    fn header(&self, _: &str) -> Option<&[u8]> {
        None
    }
    fn body(&self) -> &[u8] {
        &[]
    }
    fn duration(&self) -> Duration {
        Duration::ZERO
    }
}

/// Renders, sends and evaluates one request. `Err` ends the run as a failure (already
/// reported to the recorder).
async fn send<D: Driver, R: Recorder>(
    program: &Program,
    st: &mut State,
    id: RequestId,
    driver: &mut D,
    rec: &mut R,
) -> Result<(), ()> {
    let code = &program.request_code[id.index()];
    let cache_key = cache_key(st, code);
    // A driver that still holds this request's wire bytes under the same key sends those:
    // only the origin is needed, and a fixed or path target names it without rendering.
    let held = match (&code.target, cache_key) {
        (TargetCode::Fixed { origin, .. } | TargetCode::Path { origin, .. }, Some(key))
            if driver.holds_rendered(id, key) =>
        {
            st.origin = OriginRef::Program(*origin);
            true
        }
        _ => false,
    };
    if held {
        // Nothing to render.
    } else if let Err(msg) = render_request(program, st, code) {
        st.message = msg;
        fail(
            rec,
            FailureKind::Render,
            Some(id),
            &code.location,
            &st.message,
        );
        return Err(());
    }
    let result = {
        let req = build_request(program, st, id, code, cache_key, held);
        driver.send(&req).await
    };
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            st.message.clear();
            use std::fmt::Write as _;
            let _ = write!(st.message, "{e}");
            fail(
                rec,
                FailureKind::Transport,
                Some(id),
                &code.location,
                &st.message,
            );
            return Err(());
        }
    };
    let status = resp.status();
    if code.clauses.is_empty() {
        if status >= 400 {
            rec.request_failed(id, status);
        }
        return Ok(());
    }
    // Whether the response failed by its status: a `check`/`assert` on `status` that ran
    // decides (a failed one makes it a failed request, whatever the status: `errors < 1%`
    // once passed with 99% 503s under `check status == 200`; a passed one keeps an expected
    // 404 from counting); with none run, a status >= 400 failed.
    let mut status_judged: Option<bool> = None;
    // The buffer of the values found at JSON paths goes back to the worker however the
    // clauses end: a failed assert or capture does not make the next response allocate.
    let resp = Resp::new(
        &resp,
        &code.clauses,
        &code.json_reading,
        std::mem::take(&mut st.json_found),
    );
    let outcome = 'clauses: {
        for clause in code.clauses.iter() {
            match clause {
                ClauseCode::Check { id: cid, pred } | ClauseCode::Assert { id: cid, pred } => {
                    let is_assert = matches!(clause, ClauseCode::Assert { .. });
                    let (env, mut s) = st.eval_parts();
                    let verdict = test_pred(pred, Some(&resp), &env, &mut s, is_assert);
                    rec.check(*cid, verdict.passed, status);
                    if matches!(pred.query, QueryCode::Status) {
                        status_judged = Some(status_judged.unwrap_or(true) && verdict.passed);
                    }
                    if !verdict.passed && !is_assert && rec.wants_check_cause(*cid) {
                        let (env, mut s) = st.eval_parts();
                        let described = test_pred(pred, Some(&resp), &env, &mut s, true);
                        let cause = format!(
                            "expected `{}`, {}",
                            pred.text,
                            described.got.as_deref().unwrap_or("got something else")
                        );
                        rec.check_cause(*cid, status, &cause);
                    }
                    if !verdict.passed && is_assert {
                        let location = &program.checks[cid.index()].location;
                        st.message = format!(
                            "expected `{}`, {}",
                            pred.text,
                            verdict.got.as_deref().unwrap_or("got something else")
                        );
                        rec.failure(&Failure {
                            kind: FailureKind::Assert,
                            request: Some(id),
                            check: Some(*cid),
                            location,
                            status: Some(status),
                            message: &st.message,
                        });
                        break 'clauses Err(());
                    }
                }
                ClauseCode::Capture {
                    slot,
                    optional,
                    query: q,
                    count,
                    name,
                    location,
                } => {
                    let (env, mut s) = st.eval_parts();
                    let found = match query(q, *count, Some(&resp), &env, &mut s) {
                        Ok(d) => capture_value(d, *count, matches!(q, QueryCode::Regex { .. })),
                        Err(e) => Err(e),
                    };
                    // `body` and `regex` read a body that is not UTF-8 as shown (each bad byte
                    // a U+FFFD): a capture that took one of those is not the server's bytes.
                    let found = match found {
                        Ok(Some(Value::String(text)))
                            if resp.body_was_replaced() && text.contains('\u{fffd}') =>
                        {
                            Err(NOT_UTF8_CAPTURE.to_owned())
                        }
                        other => other,
                    };
                    match found {
                        Ok(Some(v)) => st.slots[*slot as usize] = Some(v),
                        Ok(None) | Err(_) if *optional => st.slots[*slot as usize] = None,
                        other => {
                            st.message = match other {
                                Err(e) => format!("capture `{name}` at {location}: {e}"),
                                _ => format!(
                                    "capture `{name}` at {location}: {} found nothing",
                                    query_text(q)
                                ),
                            };
                            rec.failure(&Failure {
                                kind: FailureKind::Capture,
                                request: Some(id),
                                check: None,
                                location,
                                status: Some(status),
                                message: &st.message,
                            });
                            break 'clauses Err(());
                        }
                    }
                }
            }
        }
        Ok(())
    };
    // After the clauses: a capture that failed on this response keeps its own message as
    // the request's first failure ("capture `token`: ... found nothing", status 500), rather
    // than a bare "status 500".
    if !status_judged.unwrap_or(status < 400) {
        rec.request_failed(id, status);
    }
    st.json_found = resp.into_buffer();
    outcome
}

fn query_text(q: &QueryCode) -> String {
    match q {
        QueryCode::Status => "status".into(),
        QueryCode::Duration => "duration".into(),
        QueryCode::Body => "body".into(),
        QueryCode::Header(h) => format!("header {h:?}"),
        QueryCode::JsonPath { text, .. } => format!("jsonpath {text:?}"),
        QueryCode::Regex { text, .. } => format!("regex {text:?}"),
        QueryCode::Var(_) => "the variable".into(),
    }
}

/// Renders the target, headers and body of a request into the worker's buffers.
fn render_request(program: &Program, st: &mut State, code: &RequestCode) -> Result<(), String> {
    let env = EvalEnv {
        slots: &st.slots,
        ids: st.ids,
    };
    // Target.
    match &code.target {
        TargetCode::Fixed { origin, .. } => {
            st.origin = OriginRef::Program(*origin);
            st.path_at = Where::Program;
            st.path_start = 0;
        }
        TargetCode::Path {
            origin,
            prefix,
            template,
        } => {
            st.url.clear();
            st.url.extend_from_slice(prefix.as_bytes());
            render_template(&mut st.url, template, &env, &mut st.rng, &mut st.scratch)
                .map_err(|e| render_message(&e))?;
            st.origin = OriginRef::Program(*origin);
            st.path_at = Where::Buf;
            st.path_start = 0;
        }
        TargetCode::Url { template } => {
            st.url.clear();
            render_template(&mut st.url, template, &env, &mut st.rng, &mut st.scratch)
                .map_err(|e| render_message(&e))?;
            let (origin, path_start) = resolve_url(program, &mut st.url)?;
            st.origin = origin;
            st.path_at = Where::Buf;
            st.path_start = path_start;
        }
    }

    // Headers: none to render when they are all literals and the worker has no sticky
    // header (`build_request` takes the program's).
    if !(st.sticky.is_empty() && code.literal_headers.is_some()) {
        render_headers(
            code,
            &env,
            &st.sticky,
            &mut st.headers,
            &mut st.header_buf,
            &mut st.rng,
            &mut st.scratch,
        )?;
    }

    // Body.
    if code.body.constant().is_some() {
        st.body_at = Where::Program;
    } else {
        st.body.clear();
        render_template(&mut st.body, &code.body, &env, &mut st.rng, &mut st.scratch)
            .map_err(|e| render_message(&e))?;
        st.body_at = Where::Buf;
    }
    Ok(())
}

/// Resolves the URL a target rendered into `url` (a template at its start) against the
/// plan's `base`, as a `Location` header is (RFC 3986 §5.2): an absolute URL is used as is,
/// `//host/path` takes the base's scheme, `/path` is a path on the base's origin (as is:
/// no base path prefix), and a relative `path` goes under the base's path. A fragment is
/// dropped first: it is not sent (RFC 9110 §4.2.4). Returns the origin and where the path
/// starts in `url`.
fn resolve_url(program: &Program, url: &mut Vec<u8>) -> Result<(OriginRef, usize), String> {
    if let Some(hash) = url.iter().position(|&b| b == b'#') {
        url.truncate(hash);
    }
    let text = std::str::from_utf8(url).map_err(|_| "the URL is not valid UTF-8".to_string())?;
    let kind = reference_kind(text).map_err(|why| format!("invalid target `{text}`: {why}"))?;
    let base = match (kind, &program.base) {
        (Reference::Absolute, _) => None,
        (_, Some((origin, prefix))) => Some((*origin, prefix)),
        (_, None) => return Err(format!("`{text}` is a path but the plan has no `base` URL")),
    };
    match (kind, base) {
        (Reference::NetworkPath, Some((origin, _))) => {
            let https = program.origins[origin as usize].https;
            url.splice(0..0, if https { "https:" } else { "http:" }.bytes());
        }
        (Reference::AbsolutePath, Some((origin, _))) => {
            return Ok((OriginRef::Program(origin), 0));
        }
        (Reference::RelativePath, Some((origin, prefix))) => {
            url.splice(0..0, prefix.bytes().chain([b'/']));
            return Ok((OriginRef::Program(origin), 0));
        }
        _ => {}
    }
    // Still UTF-8: at most a scheme was put in front.
    let text = std::str::from_utf8(url).map_err(|_| "the URL is not valid UTF-8".to_string())?;
    let (o, mut rest) = parse_origin(text).map_err(|m| format!("invalid URL `{text}`: {m}"))?;
    let scheme_len = if o.https { 8 } else { 7 };
    // An internationalized host is sent in its ASCII form: the URL holds that one.
    if url[scheme_len..rest] != *o.authority.as_bytes() {
        url.splice(scheme_len..rest, o.authority.bytes());
        rest = scheme_len + o.authority.len();
    }
    let host_start = if url[scheme_len..].starts_with(b"[") {
        scheme_len + 1
    } else {
        scheme_len
    };
    let origin = OriginRef::Buf {
        https: o.https,
        authority: (scheme_len as u32, rest as u32),
        host: (host_start as u32, (host_start + o.host.len()) as u32),
        port: o.port,
    };
    // The path follows the authority; an empty one is `/`.
    if rest == url.len() || url[rest] == b'?' {
        url.insert(rest, b'/');
    }
    Ok((origin, rest))
}

/// Renders a request's headers into the worker's buffers: defaults (unless sticky or own
/// replace them), sticky (unless own replace them), then the request's own.
fn render_headers(
    code: &RequestCode,
    env: &EvalEnv<'_>,
    sticky: &[(HeaderName, Vec<u8>)],
    headers: &mut Vec<HeaderEntry>,
    header_buf: &mut Vec<u8>,
    rng: &mut SmallRng,
    scratch: &mut String,
) -> Result<(), String> {
    headers.clear();
    header_buf.clear();
    let mut render =
        |h: &crate::code::HeaderCode, headers: &mut Vec<HeaderEntry>, buf: &mut Vec<u8>| {
            HeaderEntry::append(headers, buf, h.name.spelling, |buf| {
                render_header(buf, &h.value, env, rng, scratch)
            })
        };
    for h in code.base_headers.iter() {
        if !sticky.iter().any(|(n, _)| *n == h.name) {
            render(h, headers, header_buf)?;
        }
    }
    for (name, value) in sticky {
        if !code.own_headers.iter().any(|h| h.name == *name) {
            HeaderEntry::append(headers, header_buf, name.spelling, |buf| {
                buf.extend_from_slice(value);
                Ok::<(), String>(())
            })?;
        }
    }
    for h in code.own_headers.iter() {
        render(h, headers, header_buf)?;
    }
    Ok(())
}

fn render_header(
    out: &mut Vec<u8>,
    t: &crate::code::TemplateCode,
    env: &EvalEnv<'_>,
    rng: &mut SmallRng,
    scratch: &mut String,
) -> Result<(), String> {
    if let [Piece::Lit(b)] = &*t.pieces {
        out.extend_from_slice(b);
        return Ok(());
    }
    render_template(out, t, env, rng, scratch).map_err(|e| render_message(&e))
}

/// The request's [`Request::cache_key`] for this worker as it is now: `Some(0)` for a request
/// that is the same for every worker, a key of the worker and its sticky headers for one that
/// is the same for every send of this worker while they stay, `None` for one that may change
/// at every send (or a worker whose ids do not fit a key).
fn cache_key(st: &State, code: &RequestCode) -> Option<u64> {
    match code.variability {
        Variability::Dynamic => None,
        Variability::Constant if st.sticky.is_empty() => Some(0),
        _ if st.ids.worker < (1 << 31) && st.sticky_gen < (1 << 32) => {
            Some(1 + ((st.ids.worker << 32) | st.sticky_gen))
        }
        _ => None,
    }
}

/// The request as the driver sees it. `held`: the driver holds its wire bytes under
/// `cache_key`, and nothing but the target's origin was rendered: path, headers and body are
/// left empty.
fn build_request<'a>(
    program: &'a Program,
    st: &'a State,
    id: RequestId,
    code: &'a RequestCode,
    cache_key: Option<u64>,
    held: bool,
) -> Request<'a> {
    // The URL rendered at run time; a fixed target (the common case) has none.
    let url = match code.target {
        _ if held => "",
        TargetCode::Fixed { .. } => "",
        _ => std::str::from_utf8(&st.url).unwrap_or("/"),
    };
    let (scheme, authority, host, port, origin) = match st.origin {
        OriginRef::Program(i) => {
            let o = &program.origins[i as usize];
            (
                if o.https { Scheme::Https } else { Scheme::Http },
                &*o.authority,
                &*o.host,
                o.port,
                Some(i),
            )
        }
        OriginRef::Buf {
            https,
            authority,
            host,
            port,
        } => (
            if https { Scheme::Https } else { Scheme::Http },
            url.get(authority.0 as usize..authority.1 as usize)
                .unwrap_or(""),
            url.get(host.0 as usize..host.1 as usize).unwrap_or(""),
            port,
            None,
        ),
    };
    let path = match (&code.target, st.path_at) {
        _ if held => "",
        (TargetCode::Fixed { path, .. }, _) => &**path,
        (_, Where::Program) => "/",
        (_, Where::Buf) => url.get(st.path_start..).unwrap_or("/"),
    };
    let body: &[u8] = match st.body_at {
        _ if held => &[],
        Where::Program => code.body.constant().unwrap_or(&[]),
        Where::Buf => &st.body,
    };
    Request {
        id,
        method: &code.method,
        scheme,
        authority,
        host,
        origin,
        port,
        path,
        headers: match &code.literal_headers {
            _ if held => Headers {
                names: &program.header_names,
                entries: &[],
                buf: &[],
            },
            Some(literal) if st.sticky.is_empty() => Headers {
                names: &program.header_names,
                entries: &literal.entries,
                buf: &literal.buf,
            },
            _ => Headers {
                names: &program.header_names,
                entries: &st.headers,
                buf: &st.header_buf,
            },
        },
        body,
        timeout: program.timeout,
        needs: &program.requests[id.index()].needs,
        cache_key,
        rendered: !held,
    }
}
