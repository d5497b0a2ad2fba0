//! Distinguished names, just enough of RFC 4514 to compare them and to read an entry's OU
//! chain: RDNs split on unescaped commas, `\,`-style and `\2C`-style escapes undone.

/// Splits `dn` into its RDNs as (attribute lower-cased, value unescaped), leaf first.
/// Multi-valued RDNs (`cn=a+uid=b`) are kept whole in the value: the sync never needs them.
pub fn parse_dn(dn: &str) -> Vec<(String, String)> {
    if !dn.contains('\\') {
        // No escapes (nearly every DN): plain splits give what the loop below gives.
        return dn
            .split([',', ';'])
            .filter_map(|rdn| {
                let (a, v) = rdn.split_once('=').unwrap_or((rdn, ""));
                let (a, v) = (a.trim(), v.trim());
                (!a.is_empty() || !v.is_empty()).then(|| (a.to_ascii_lowercase(), v.to_string()))
            })
            .collect();
    }
    parse_escaped(dn)
}

fn parse_escaped(dn: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut attr = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut chars = dn.chars().peekable();
    let mut raw_hex: Vec<u8> = Vec::new();
    let flush_hex = |raw: &mut Vec<u8>, value: &mut String| {
        if !raw.is_empty() {
            value.push_str(&String::from_utf8_lossy(raw));
            raw.clear();
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let a = chars.next();
                let b = chars.peek().copied();
                match (a, b) {
                    (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {
                        chars.next();
                        let byte = u8::from_str_radix(&format!("{a}{b}"), 16).unwrap_or(b'?');
                        raw_hex.push(byte);
                        continue;
                    }
                    (Some(a), _) => {
                        flush_hex(&mut raw_hex, &mut value);
                        if in_value {
                            value.push(a);
                        } else {
                            attr.push(a);
                        }
                    }
                    (None, _) => {}
                }
            }
            ',' | ';' => {
                flush_hex(&mut raw_hex, &mut value);
                push_rdn(&mut out, &mut attr, &mut value);
                in_value = false;
            }
            '=' if !in_value => in_value = true,
            _ => {
                flush_hex(&mut raw_hex, &mut value);
                if in_value {
                    value.push(c);
                } else {
                    attr.push(c);
                }
            }
        }
    }
    flush_hex(&mut raw_hex, &mut value);
    push_rdn(&mut out, &mut attr, &mut value);
    out
}

fn push_rdn(out: &mut Vec<(String, String)>, attr: &mut String, value: &mut String) {
    let a = attr.trim().to_ascii_lowercase();
    let v = value.trim().to_string();
    if !a.is_empty() || !v.is_empty() {
        out.push((a, v));
    }
    attr.clear();
    value.clear();
}

/// A DN in one canonical spelling, for comparing: attribute names and values lower-cased,
/// spaces around separators dropped (`uid=Ann, ou=People` equals `UID=ann,ou=people`).
/// Values are compared case-insensitively, which is what directories do for the usual
/// naming attributes (`cn`, `ou`, `uid`, `dc`).
pub fn normalize_dn(dn: &str) -> String {
    // A sync normalizes every user and member DN several times: without escapes (nearly
    // every DN) one pass and one allocation give what the general path below gives.
    if !dn.contains('\\') {
        return normalize_plain(dn);
    }
    normalize_parsed(dn)
}

/// [`normalize_dn`] for a DN without `\`: RDNs split on `,` and `;`, attribute and value
/// on the first `=`, as [`parse_dn`] splits them.
fn normalize_plain(dn: &str) -> String {
    let mut s = String::with_capacity(dn.len());
    let mut first = true;
    for rdn in dn.split([',', ';']) {
        let (a, v) = rdn.split_once('=').unwrap_or((rdn, ""));
        let (a, v) = (a.trim(), v.trim());
        if a.is_empty() && v.is_empty() {
            continue;
        }
        if !first {
            s.push(',');
        }
        first = false;
        for c in a.chars() {
            s.push(c.to_ascii_lowercase());
        }
        s.push('=');
        if v.is_ascii() {
            for c in v.chars() {
                if matches!(c, '=' | '+') {
                    s.push('\\');
                }
                s.push(c.to_ascii_lowercase());
            }
        } else {
            push_value(&mut s, v);
        }
    }
    s
}

fn push_value(s: &mut String, v: &str) {
    for c in v.to_lowercase().chars() {
        // Re-escape what would make the canonical form ambiguous.
        if matches!(c, ',' | '=' | '\\' | ';' | '+') {
            s.push('\\');
        }
        s.push(c);
    }
}

/// [`normalize_dn`] through [`parse_dn`]: any DN.
fn normalize_parsed(dn: &str) -> String {
    let mut s = String::with_capacity(dn.len());
    for (i, (a, v)) in parse_dn(dn).iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(a);
        s.push('=');
        push_value(&mut s, v);
    }
    s
}

/// Whether `dn` lies under (or is) `base`, both normalized; an empty base holds everything.
pub(crate) fn is_under(dn_norm: &str, base_norm: &str) -> bool {
    base_norm.is_empty()
        || dn_norm == base_norm
        || dn_norm
            .strip_suffix(base_norm)
            .is_some_and(|head| head.ends_with(',') && !head.ends_with("\\,"))
}

/// The RDN value of a DN (`cn=Sales,ou=Groups` → `Sales`).
pub(crate) fn rdn_value(dn: &str) -> String {
    parse_dn(dn)
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// A member value as a DN: `uniqueMember` may carry an optional UID (`…#'0101'B`).
pub(crate) fn member_dn(value: &str) -> String {
    let v = value.trim();
    let v = match v.rfind("#'") {
        Some(i) if v.ends_with("'B") => v.get(..i).unwrap_or(v),
        _ => v,
    };
    normalize_dn(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i1_dn_parsing_and_normalizing() {
        assert_eq!(
            parse_dn("uid=ann,OU=North , ou=Sales\\, EMEA,dc=ex"),
            vec![
                ("uid".into(), "ann".into()),
                ("ou".into(), "North".into()),
                ("ou".into(), "Sales, EMEA".into()),
                ("dc".into(), "ex".into())
            ]
        );
        assert_eq!(
            parse_dn("cn=Z\\C3\\BCrich"),
            vec![("cn".into(), "Zürich".into())]
        );
        assert_eq!(
            normalize_dn("UID=Ann, ou=People"),
            normalize_dn("uid=ann,ou=people")
        );
        assert!(is_under(
            &normalize_dn("uid=a,dc=ex,dc=com"),
            &normalize_dn("DC=ex, dc=com")
        ));
        assert!(!is_under(
            &normalize_dn("uid=a,dc=myex,dc=com"),
            &normalize_dn("dc=ex,dc=com")
        ));
        assert!(is_under("uid=a", ""));
    }

    proptest::proptest! {
        /// The one-pass path for DNs without escapes gives what the parsing path gives.
        #[test]
        fn i1_plain_dns_normalize_as_parsed_ones(
            dn in "[a-zA-Z0-9 =,;+#'.ÄäÜüß\u{130}\u{2028}-]{0,40}"
        ) {
            proptest::prop_assert_eq!(normalize_plain(&dn), normalize_parsed(&dn));
            proptest::prop_assert_eq!(parse_dn(&dn), parse_escaped(&dn));
        }
    }
}
