//! actix-web path patterns (`/rooms/{room}/ticks`, `/n/{id:\d{2}}`): their parameters, for
//! filling inputs, for the OpenAPI document, and for telling routes apart.

use std::ops::Range;

/// A parameter of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param<'a> {
    /// Where it stands in the path, braces included.
    pub(crate) place: Range<usize>,
    pub(crate) name: &'a str,
    /// Its custom pattern, `\d{2}` in `{id:\d{2}}`.
    pub(crate) pattern: Option<&'a str>,
}

/// The parameters of `path`, in order. A pattern may hold braces of its own (`{id:\d{2}}`); an
/// unbalanced `{` ends the parameters, and the rest is plain text.
pub(crate) fn params(path: &str) -> impl Iterator<Item = Param<'_>> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let open = from + path[from..].find('{')?;
        let mut depth = 0usize;
        let close = path[open..].char_indices().find_map(|(i, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(open + i)
        })?;
        from = close + 1;
        let inside = &path[open + 1..close];
        let (name, pattern) = match inside.split_once(':') {
            Some((name, pattern)) => (name, Some(pattern)),
            None => (inside, None),
        };
        Some(Param {
            place: open..close + 1,
            name: name.trim(),
            pattern,
        })
    })
}

/// `path` with each parameter rewritten by `write`, the text between them kept.
pub(crate) fn rewrite(path: &str, mut write: impl FnMut(&mut String, &Param<'_>)) -> String {
    let mut out = String::with_capacity(path.len());
    let mut copied = 0;
    for param in params(path) {
        out.push_str(&path[copied..param.place.start]);
        write(&mut out, &param);
        copied = param.place.end;
    }
    out.push_str(&path[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &str) -> Vec<&str> {
        params(path).map(|p| p.name).collect()
    }

    #[test]
    fn parameters_are_read_as_actix_web_writes_them() {
        assert_eq!(names("/count"), Vec::<&str>::new());
        assert_eq!(names("/rooms/{room}/ticks"), ["room"]);
        assert_eq!(names("/a/{x}/{ y }/{z:\\d+}"), ["x", "y", "z"]);
        let nested: Vec<_> = params("/n/{id:\\d{2}}/x").collect();
        assert_eq!(nested.len(), 1);
        assert_eq!((nested[0].name, nested[0].pattern), ("id", Some("\\d{2}")));
        assert_eq!(&"/n/{id:\\d{2}}/x"[nested[0].place.clone()], "{id:\\d{2}}");
        assert_eq!(names("/odd/{x"), Vec::<&str>::new());
    }

    #[test]
    fn rewriting_keeps_the_text_between() {
        let path = "/a/{x:\\d{2}}/b/{y}";
        assert_eq!(rewrite(path, |out, p| out.push_str(p.name)), "/a/x/b/y");
        assert_eq!(rewrite("/plain", |_, _| unreachable!()), "/plain");
    }
}
