//! The validity period (notBefore, notAfter) of an X.509 certificate, read from its DER with
//! a few lines of DER walking. rustls checks the dates of the certificates it verifies; this
//! is for the one it cannot verify the usual way: a self-signed server certificate marked as
//! a CA (what `openssl req -x509` makes), trusted as it is because `--cacert` names it
//! (see [`crate::tls`]).

/// The certificate's validity, in seconds since the Unix epoch: `(not_before, not_after)`.
/// None when the DER is not a certificate as RFC 5280 lays it out.
pub(crate) fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let (certificate, _) = element(der, SEQUENCE)?;
    let (mut tbs, _) = element(certificate, SEQUENCE)?;
    // version [0] EXPLICIT (optional), serialNumber, signature, issuer, then validity.
    if tbs.first() == Some(&VERSION) {
        tbs = element(tbs, VERSION)?.1;
    }
    for tag in [INTEGER, SEQUENCE, SEQUENCE] {
        tbs = element(tbs, tag)?.1;
    }
    let (validity, _) = element(tbs, SEQUENCE)?;
    let (not_before, rest) = time(validity)?;
    let (not_after, _) = time(rest)?;
    Some((not_before, not_after))
}

const INTEGER: u8 = 0x02;
const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xa0;

/// The contents of the element with `tag` at the start of `input`, and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, years 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) at the
/// start of `input`, in seconds since the epoch, and what follows it.
fn time(input: &[u8]) -> Option<(i64, &[u8])> {
    let tag = *input.first()?;
    let (text, rest) = element(input, tag)?;
    let (year, digits) = match tag {
        UTC_TIME => {
            let yy = number(text.get(..2)?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        GENERALIZED_TIME => (number(text.get(..4)?)?, 4),
        _ => return None,
    };
    let fields = text.get(digits..digits + 10)?;
    if text.get(digits + 10..) != Some(b"Z") {
        return None;
    }
    let field = |i: usize| number(&fields[2 * i..2 * i + 2]);
    let (month, day) = (field(0)?, field(1)?);
    let (hour, minute, second) = (field(2)?, field(3)?, field(4)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second.min(60);
    Some((secs, rest))
}

/// ASCII digits as a number.
fn number(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
    })
}

/// Days from 1970-01-01 to the given date of the proleptic Gregorian calendar (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element: tag, short or long length, contents.
    fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if contents.len() < 0x80 {
            out.push(contents.len() as u8);
        } else {
            out.extend([0x82, (contents.len() >> 8) as u8, contents.len() as u8]);
        }
        out.extend_from_slice(contents);
        out
    }

    /// A certificate skeleton: the fields before the validity, the validity, a subject.
    fn certificate(version: bool, not_before: &[u8], not_after: &[u8]) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(tlv(VERSION, &tlv(INTEGER, &[2])));
        }
        tbs.extend(tlv(INTEGER, &[0x01, 0x02, 0x03]));
        tbs.extend(tlv(SEQUENCE, &[0x06, 0x01, 0x00]));
        // An issuer long enough for a long-form length.
        tbs.extend(tlv(SEQUENCE, &[0x31; 200]));
        let mut validity = not_before.to_vec();
        validity.extend_from_slice(not_after);
        tbs.extend(tlv(SEQUENCE, &validity));
        tbs.extend(tlv(SEQUENCE, &[]));
        let mut cert = tlv(SEQUENCE, &tbs);
        cert.extend(tlv(SEQUENCE, &[0x06, 0x01, 0x00]));
        tlv(SEQUENCE, &cert)
    }

    #[test]
    fn dates_are_read_in_both_encodings() {
        let utc = |s: &str| tlv(UTC_TIME, s.as_bytes());
        let general = |s: &str| tlv(GENERALIZED_TIME, s.as_bytes());
        // (version, notBefore, notAfter, expected)
        type Case = (bool, Vec<u8>, Vec<u8>, Option<(i64, i64)>);
        let cases: Vec<Case> = vec![
            (
                true,
                utc("700101000000Z"),
                utc("491231235959Z"),
                Some((0, 2_524_607_999)),
            ),
            (
                false,
                utc("000229120000Z"),
                general("40960101000000Z"),
                Some((951_825_600, 67_090_118_400)),
            ),
            (
                true,
                utc("500101000000Z"),
                utc("991231235959Z"),
                Some((-631_152_000, 946_684_799)),
            ),
            // Not UTC ("Z"), a 13th month, a letter, a missing notAfter.
            (true, utc("700101000000+0100"), utc("491231235959Z"), None),
            (true, utc("701301000000Z"), utc("491231235959Z"), None),
            (true, utc("70010100000xZ"), utc("491231235959Z"), None),
            (true, utc("700101000000Z"), Vec::new(), None),
            (
                true,
                tlv(INTEGER, b"700101000000Z"),
                utc("491231235959Z"),
                None,
            ),
        ];
        for (version, before, after, expected) in cases {
            assert_eq!(
                validity(&certificate(version, &before, &after)),
                expected,
                "{:?} {:?}",
                String::from_utf8_lossy(&before),
                String::from_utf8_lossy(&after)
            );
        }
    }

    #[test]
    fn truncated_or_foreign_input_is_none_not_a_panic() {
        let whole = certificate(
            true,
            &tlv(UTC_TIME, b"700101000000Z"),
            &tlv(UTC_TIME, b"491231235959Z"),
        );
        for end in 0..whole.len() {
            assert_eq!(validity(&whole[..end]), None, "{end}");
        }
        assert_eq!(validity(b""), None);
        assert_eq!(validity(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(validity(&[0x30, 0x80]), None);
    }
}
