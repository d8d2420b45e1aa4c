//! Printing a [`SessionDescription`]: CRLF line ends, RFC 8866 §5 order for the lines we own.

use std::fmt::{self, Display, Formatter, Write};

use super::{Connection, Field, MediaDescription, Origin, SessionDescription};

impl Display for SessionDescription {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("v=0\r\n")?;
        if let Some(o) = &self.origin {
            writeln_crlf(f, 'o', o)?;
        }
        writeln_crlf(f, 's', self.session_name.as_deref().unwrap_or("-"))?;
        // c= goes after i= u= e= p= and before b= t= r= z= k= a= (RFC 8866 §5).
        let split = self
            .fields
            .iter()
            .position(|field| {
                !matches!(
                    field,
                    Field::Other {
                        key: 'i' | 'u' | 'e' | 'p',
                        ..
                    }
                )
            })
            .unwrap_or(self.fields.len());
        write_fields(f, &self.fields[..split])?;
        if let Some(c) = &self.connection {
            writeln_crlf(f, 'c', c)?;
        }
        write_fields(f, &self.fields[split..])?;
        for media in &self.media {
            write!(f, "{media}")?;
        }
        Ok(())
    }
}

impl Display for MediaDescription {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.kind.as_str(), self.port)?;
        if let Some(count) = self.port_count {
            write!(f, "/{count}")?;
        }
        write!(f, " {}", self.proto)?;
        for format in &self.formats {
            write!(f, " {format}")?;
        }
        f.write_str("\r\n")?;
        // c= goes after i= and before b= k= a= (RFC 8866 §5).
        let split = self
            .fields
            .iter()
            .position(|field| !matches!(field, Field::Other { key: 'i', .. }))
            .unwrap_or(self.fields.len());
        write_fields(f, &self.fields[..split])?;
        if let Some(c) = &self.connection {
            writeln_crlf(f, 'c', c)?;
        }
        write_fields(f, &self.fields[split..])
    }
}

impl Display for Origin {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {}",
            self.username,
            self.session_id,
            self.session_version,
            self.nettype,
            self.addrtype,
            self.address
        )
    }
}

impl Display for Connection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.nettype, self.addrtype, self.address)
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Field::Attribute(a) => match &a.value {
                Some(value) => write!(f, "a={}:{value}", a.name),
                None => write!(f, "a={}", a.name),
            },
            Field::Other { key, value } => write!(f, "{key}={value}"),
        }
    }
}

impl SessionDescription {
    /// The body bytes to put in a SIP message.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

fn write_fields(f: &mut Formatter<'_>, fields: &[Field]) -> fmt::Result {
    for field in fields {
        write!(f, "{field}\r\n")?;
    }
    Ok(())
}

fn writeln_crlf(f: &mut Formatter<'_>, key: char, value: impl Display) -> fmt::Result {
    f.write_char(key)?;
    write!(f, "={value}\r\n")
}
