//! JSON Pointers (RFC 6901) into a script, so every error can say exactly where it is.

use std::fmt;

/// A JSON Pointer into the script, such as `/2/call/0/user`.
///
/// The root of the document is the empty pointer `""`. Object keys are escaped as RFC 6901
/// requires (`~` → `~0`, `/` → `~1`), so a pointer can be fed to any JSON Pointer library.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Pointer(String);

impl Pointer {
    /// The pointer to the whole document.
    pub fn root() -> Self {
        Pointer(String::new())
    }

    /// The pointer to element `index` of the array this pointer names.
    pub fn index(&self, index: usize) -> Self {
        Pointer(format!("{}/{index}", self.0))
    }

    /// The pointer to member `key` of the object this pointer names.
    pub fn key(&self, key: &str) -> Self {
        let mut out = String::with_capacity(self.0.len() + key.len() + 1);
        out.push_str(&self.0);
        out.push('/');
        for c in key.chars() {
            match c {
                '~' => out.push_str("~0"),
                '/' => out.push_str("~1"),
                c => out.push(c),
            }
        }
        Pointer(out)
    }

    /// The pointer as text (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the pointer to the whole document.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_nested_pointers() {
        let p = Pointer::root().index(2).key("call").index(0).key("user");
        assert_eq!(p.as_str(), "/2/call/0/user");
        assert!(!p.is_root());
        assert!(Pointer::root().is_root());
    }

    #[test]
    fn escapes_tilde_and_slash() {
        assert_eq!(Pointer::root().key("a/b~c").as_str(), "/a~1b~0c");
    }
}
