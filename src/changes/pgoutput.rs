//! Decoder (and matching encoder) for messages of PostgreSQL's built-in `pgoutput` logical
//! replication plugin, protocol version 1.
//!
//! Each input is one message exactly as returned in the `data` column of
//! `pg_logical_slot_peek_binary_changes(..., 'proto_version', '1', ...)`, starting with its
//! one-byte type. The bytes come from a server we do not control, so decoding never panics,
//! never trusts a count beyond what the remaining bytes could hold, and rejects unknown flags
//! and trailing bytes rather than silently misreading a format it does not understand.

use chrono::{DateTime, Utc};
use std::ascii::escape_default;

/// Seconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 00:00 UTC).
const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;

/// One decoded `pgoutput` message; the variant follows the message type byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// 'B': a transaction starts; its changes follow until the matching Commit.
    Begin {
        /// LSN of the transaction's commit record.
        final_lsn: u64,
        /// Microseconds since 2000-01-01 00:00 UTC; see [`commit_time_utc`].
        commit_time: i64,
        /// Transaction id.
        xid: u32,
    },
    /// 'C': the transaction opened by the last Begin is complete.
    Commit {
        /// Unused in protocol version 1 (always 0); kept so encoding is exact.
        flags: u8,
        /// LSN of the commit record.
        commit_lsn: u64,
        /// LSN just past the transaction: what a reader confirms once it is stored.
        end_lsn: u64,
        /// Microseconds since 2000-01-01 00:00 UTC; see [`commit_time_utc`].
        commit_time: i64,
    },
    /// 'O': the transaction was replayed from another node through a replication origin.
    Origin {
        /// Commit LSN on the origin server.
        commit_lsn: u64,
        /// Name of the replication origin.
        name: String,
    },
    /// 'R': describes a table before the first change that needs it (and again after DDL).
    Relation(Relation),
    /// 'Y': names a non-built-in column type before a Relation that uses it.
    Type {
        /// Type oid, as in [`Column::type_oid`].
        oid: u32,
        /// Schema of the type (empty for `pg_catalog`).
        namespace: String,
        /// Type name.
        name: String,
    },
    /// 'I': a row was inserted.
    Insert {
        /// Oid of the table, announced by an earlier Relation message.
        relation: u32,
        /// The new row, one value per column of the Relation.
        new: Vec<Value>,
    },
    /// 'U': a row was updated.
    Update {
        /// Oid of the table, announced by an earlier Relation message.
        relation: u32,
        /// Present only when the replica identity changed (`Key`) or the table has
        /// `REPLICA IDENTITY FULL` (`Full`); otherwise `new` itself identifies the row.
        old: Option<OldRow>,
        /// The row after the update.
        new: Vec<Value>,
    },
    /// 'D': a row was deleted.
    Delete {
        /// Oid of the table, announced by an earlier Relation message.
        relation: u32,
        /// Identifies the deleted row.
        old: OldRow,
    },
    /// 'T': one TRUNCATE statement, covering all the listed tables at once.
    Truncate {
        /// Oids of the truncated tables.
        relations: Vec<u32>,
        /// `TRUNCATE ... CASCADE`.
        cascade: bool,
        /// `TRUNCATE ... RESTART IDENTITY`.
        restart_identity: bool,
    },
    /// 'M': a `pg_logical_emit_message` call; sent only with the `messages` option.
    Message {
        /// Whether the message belongs to the surrounding transaction.
        transactional: bool,
        /// LSN of the message.
        lsn: u64,
        /// Prefix chosen by the emitter, so applications can tell their messages apart.
        prefix: String,
        /// Arbitrary payload.
        content: Vec<u8>,
    },
}

/// Table description from a Relation message; later changes refer to it by oid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Table oid.
    pub oid: u32,
    /// Schema name (empty for `pg_catalog`).
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// Decides which old values Update and Delete messages carry.
    pub replica_identity: ReplicaIdentity,
    /// Columns in the order tuple values arrive.
    pub columns: Vec<Column>,
}

/// The table's `REPLICA IDENTITY`, which decides what identifies an updated or deleted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// 'd': the primary key.
    Default,
    /// 'n': nothing; updates and deletes carry no old values.
    Nothing,
    /// 'f': the whole old row.
    Full,
    /// 'i': the columns of a chosen unique index.
    Index,
}

/// One column of a Relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Part of the replica identity (flags bit 1); with `FULL`, every column is.
    pub key: bool,
    /// Column name.
    pub name: String,
    /// Type oid; a Type message comes first for types that are not built in.
    pub type_oid: u32,
    /// `atttypmod`, e.g. n + 4 for `varchar(n)`; -1 when the type has none.
    pub type_modifier: i32,
}

/// The old row carried by Update and Delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldRow {
    /// 'K': only the replica identity columns are meaningful; the others are Null.
    Key(Vec<Value>),
    /// 'O': the whole old row (`REPLICA IDENTITY FULL`).
    Full(Vec<Value>),
}

/// One column value in a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// 'n': SQL NULL.
    Null,
    /// 'u': a TOASTed value that did not change, so the server did not send it again.
    UnchangedToast,
    /// 't': the value in its type's text output format.
    Text(Vec<u8>),
    /// 'b': the value in its type's binary format (only with the `binary` option).
    Binary(Vec<u8>),
}

/// Why a message could not be decoded. `kind` names the message type ("Insert") and
/// offsets count bytes from the type byte (0), so a bad message can be found in a dump.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all, so not even a message type.
    #[error("empty input: a pgoutput message needs at least its type byte")]
    Empty,
    /// The first byte is not a protocol version 1 message type.
    #[error("unknown message type '{}' (0x{byte:02X})", escape_default(*.byte))]
    UnknownMessageType {
        /// The type byte.
        byte: u8,
    },
    /// The message ended inside a field.
    #[error("truncated at byte {offset} of {} message, expected {needed} more bytes for the {what}", article(.kind))]
    Truncated {
        /// Message type being decoded.
        kind: &'static str,
        /// Where the data ended.
        offset: usize,
        /// How many more bytes the field needed.
        needed: usize,
        /// The field being read.
        what: &'static str,
    },
    /// A count promises more items than the remaining bytes could hold; checked before
    /// allocating so a corrupt count cannot reserve gigabytes.
    #[error("{what} count {count} at byte {offset} of {} message cannot fit in the {remaining} bytes that remain", article(.kind))]
    CountTooLarge {
        /// Message type being decoded.
        kind: &'static str,
        /// Where the count starts.
        offset: usize,
        /// The count as sent.
        count: u32,
        /// Bytes left after the count.
        remaining: usize,
        /// What is being counted.
        what: &'static str,
    },
    /// A field holds a value the protocol does not allow there (unknown tuple column kind,
    /// tuple marker, replica identity or flag bits; invalid UTF-8; unterminated string;
    /// negative length).
    #[error("{problem} at byte {offset} of {} message", article(.kind))]
    Invalid {
        /// Message type being decoded.
        kind: &'static str,
        /// Where the offending field starts.
        offset: usize,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// Bytes remain after a complete message: a format this decoder does not know.
    #[error("trailing {count} bytes after {} message", article(.kind))]
    TrailingBytes {
        /// Message type that was decoded.
        kind: &'static str,
        /// How many bytes were left over.
        count: usize,
    },
}

/// "a Begin" / "an Insert", so error messages read naturally.
fn article(kind: &str) -> String {
    match kind {
        "Insert" | "Origin" | "Update" => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// A byte as it appears in error messages: `'X' (0x58)`.
fn show(byte: u8) -> String {
    format!("'{}' (0x{byte:02X})", escape_default(byte))
}

const KINDS: [(u8, &str); 10] = [
    (b'B', "Begin"),
    (b'C', "Commit"),
    (b'O', "Origin"),
    (b'R', "Relation"),
    (b'Y', "Type"),
    (b'I', "Insert"),
    (b'U', "Update"),
    (b'D', "Delete"),
    (b'T', "Truncate"),
    (b'M', "Message"),
];

/// Big-endian integer readers named after their type, each `fn(&mut self, what)`.
macro_rules! read_be {
    ($($t:ident),*) => {$(
        fn $t(&mut self, what: &'static str) -> Result<$t, DecodeError> {
            self.array(what).map($t::from_be_bytes)
        }
    )*};
}

/// Big-endian integer writers named after their type, chaining like the rest of [`Writer`].
macro_rules! write_be {
    ($($t:ident),*) => {$(
        fn $t(&mut self, v: $t) -> &mut Self {
            self.0.extend(v.to_be_bytes());
            self
        }
    )*};
}

/// Cursor over one message; every read checks bounds and knows its offset for errors.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    kind: &'static str,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    fn invalid(&self, offset: usize, problem: String) -> DecodeError {
        DecodeError::Invalid {
            kind: self.kind,
            offset,
            problem,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let rest = self.rest();
        let taken = rest.get(..n).ok_or_else(|| DecodeError::Truncated {
            kind: self.kind,
            offset: self.buf.len(),
            needed: n.saturating_sub(rest.len()),
            what,
        })?;
        self.pos += n;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    read_be!(u8, u16, u32, i32, u64, i64);

    /// A flags byte; bits outside `known` are rejected, since they would change the meaning
    /// in a way this decoder cannot know (and would be lost when re-encoding).
    fn flags(&mut self, known: u8, what: &'static str) -> Result<u8, DecodeError> {
        let offset = self.pos;
        let flags = self.u8(what)?;
        match flags & !known {
            0 => Ok(flags),
            bits => Err(self.invalid(offset, format!("unknown {what} bits 0x{bits:02X}"))),
        }
    }

    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let start = self.pos;
        let Some(len) = self.rest().iter().position(|&b| b == 0) else {
            let problem = format!("unterminated {what} (no NUL before the end)");
            return Err(self.invalid(start, problem));
        };
        let bytes = self.take(len + 1, what)?.get(..len).unwrap_or_default();
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            let offset = start + e.utf8_error().valid_up_to();
            self.invalid(offset, format!("invalid UTF-8 in the {what}"))
        })
    }

    /// An Int32 length, then that many bytes.
    fn bytes(&mut self, what: &'static str) -> Result<Vec<u8>, DecodeError> {
        let offset = self.pos;
        let length = self.i32(what)?;
        let Ok(len) = usize::try_from(length) else {
            return Err(self.invalid(offset, format!("negative {what} length {length}")));
        };
        Ok(self.take(len, what)?.to_vec())
    }

    /// Checks that `count` items (the count read at `offset`) of at least `min_size` bytes
    /// each fit in what is left, so the caller may allocate for them.
    fn fit(
        &self,
        offset: usize,
        count: u32,
        min_size: usize,
        what: &'static str,
    ) -> Result<usize, DecodeError> {
        let remaining = self.rest().len();
        match usize::try_from(count) {
            Ok(n) if n.saturating_mul(min_size) <= remaining => Ok(n),
            _ => Err(DecodeError::CountTooLarge {
                kind: self.kind,
                offset,
                count,
                remaining,
                what,
            }),
        }
    }

    /// An Int16 count of items of at least `min_size` bytes each.
    fn count16(&mut self, min_size: usize, what: &'static str) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let count = self.u16(what)?;
        self.fit(offset, count.into(), min_size, what)
    }

    fn tuple(&mut self) -> Result<Vec<Value>, DecodeError> {
        let count = self.count16(1, "tuple column")?;
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = self.pos;
            values.push(match self.u8("tuple column kind")? {
                b'n' => Value::Null,
                b'u' => Value::UnchangedToast,
                b't' => Value::Text(self.bytes("text value")?),
                b'b' => Value::Binary(self.bytes("binary value")?),
                byte => {
                    let problem = format!("unknown tuple column kind {}", show(byte));
                    return Err(self.invalid(offset, problem));
                }
            });
        }
        Ok(values)
    }

    /// The byte announcing a tuple: 'N' (new), 'K' (old key) or 'O' (old row).
    fn marker(&mut self, allowed: &'static [u8]) -> Result<u8, DecodeError> {
        let offset = self.pos;
        let byte = self.u8("tuple marker")?;
        if allowed.contains(&byte) {
            return Ok(byte);
        }
        let expected: Vec<String> = allowed
            .iter()
            .map(|&b| format!("'{}'", char::from(b)))
            .collect();
        let problem = format!(
            "unexpected tuple marker {}, expected {}",
            show(byte),
            expected.join(" or ")
        );
        Err(self.invalid(offset, problem))
    }

    fn old_row(&mut self, marker: u8) -> Result<OldRow, DecodeError> {
        let values = self.tuple()?;
        Ok(if marker == b'K' {
            OldRow::Key(values)
        } else {
            OldRow::Full(values)
        })
    }

    fn relation(&mut self) -> Result<Relation, DecodeError> {
        let oid = self.u32("relation oid")?;
        let namespace = self.string("namespace")?;
        let name = self.string("relation name")?;
        let offset = self.pos;
        let replica_identity = match self.u8("replica identity")? {
            b'd' => ReplicaIdentity::Default,
            b'n' => ReplicaIdentity::Nothing,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            byte => {
                return Err(self.invalid(offset, format!("unknown replica identity {}", show(byte))))
            }
        };
        // flags + an empty name's NUL + type oid + type modifier
        let count = self.count16(10, "column")?;
        let mut columns = Vec::with_capacity(count);
        for _ in 0..count {
            columns.push(Column {
                key: self.flags(1, "column flags")? == 1,
                name: self.string("column name")?,
                type_oid: self.u32("column type oid")?,
                type_modifier: self.i32("column type modifier")?,
            });
        }
        Ok(Relation {
            oid,
            namespace,
            name,
            replica_identity,
            columns,
        })
    }
}

/// Decodes one pgoutput (protocol version 1) message, type byte included.
pub fn decode(data: &[u8]) -> Result<Message, DecodeError> {
    let (&tag, _) = data.split_first().ok_or(DecodeError::Empty)?;
    let Some(&(_, kind)) = KINDS.iter().find(|(t, _)| *t == tag) else {
        return Err(DecodeError::UnknownMessageType { byte: tag });
    };
    let mut r = Reader {
        buf: data,
        pos: 1,
        kind,
    };
    let message = match tag {
        b'B' => Message::Begin {
            final_lsn: r.u64("final LSN")?,
            commit_time: r.i64("commit time")?,
            xid: r.u32("xid")?,
        },
        b'C' => Message::Commit {
            flags: r.u8("flags")?,
            commit_lsn: r.u64("commit LSN")?,
            end_lsn: r.u64("end LSN")?,
            commit_time: r.i64("commit time")?,
        },
        b'O' => Message::Origin {
            commit_lsn: r.u64("commit LSN")?,
            name: r.string("origin name")?,
        },
        b'R' => Message::Relation(r.relation()?),
        b'Y' => Message::Type {
            oid: r.u32("type oid")?,
            namespace: r.string("namespace")?,
            name: r.string("type name")?,
        },
        b'I' => {
            let relation = r.u32("relation oid")?;
            r.marker(b"N")?;
            Message::Insert {
                relation,
                new: r.tuple()?,
            }
        }
        b'U' => {
            let relation = r.u32("relation oid")?;
            let old = match r.marker(b"KON")? {
                b'N' => None,
                marker => {
                    let old = r.old_row(marker)?;
                    r.marker(b"N")?;
                    Some(old)
                }
            };
            Message::Update {
                relation,
                old,
                new: r.tuple()?,
            }
        }
        b'D' => {
            let relation = r.u32("relation oid")?;
            let marker = r.marker(b"KO")?;
            Message::Delete {
                relation,
                old: r.old_row(marker)?,
            }
        }
        b'T' => {
            let offset = r.pos;
            let count = r.u32("relation count")?;
            let options = r.flags(3, "truncate options")?;
            let count = r.fit(offset, count, 4, "relation")?;
            let mut relations = Vec::with_capacity(count);
            for _ in 0..count {
                relations.push(r.u32("relation oid")?);
            }
            Message::Truncate {
                relations,
                cascade: options & 1 != 0,
                restart_identity: options & 2 != 0,
            }
        }
        // b'M', the only type left in KINDS
        _ => Message::Message {
            transactional: r.flags(1, "message flags")? == 1,
            lsn: r.u64("message LSN")?,
            prefix: r.string("prefix")?,
            content: r.bytes("content")?,
        },
    };
    match r.rest().len() {
        0 => Ok(message),
        count => Err(DecodeError::TrailingBytes { kind, count }),
    }
}

/// Encodes a message in the format [`decode`] reads, to build test input and fixtures.
///
/// Strings must not contain NUL bytes (PostgreSQL names never do): one that does produces
/// bytes that decode differently or not at all.
///
/// # Panics
/// If a tuple or relation has more than 65535 columns, or a value or content is longer than
/// `i32::MAX` bytes, neither of which PostgreSQL can produce.
pub fn encode(message: &Message) -> Vec<u8> {
    let mut w = Writer(Vec::new());
    match message {
        Message::Begin {
            final_lsn,
            commit_time,
            xid,
        } => {
            w.u8(b'B').u64(*final_lsn).i64(*commit_time).u32(*xid);
        }
        Message::Commit {
            flags,
            commit_lsn,
            end_lsn,
            commit_time,
        } => {
            w.u8(b'C')
                .u8(*flags)
                .u64(*commit_lsn)
                .u64(*end_lsn)
                .i64(*commit_time);
        }
        Message::Origin { commit_lsn, name } => {
            w.u8(b'O').u64(*commit_lsn).str(name);
        }
        Message::Relation(rel) => {
            w.u8(b'R').u32(rel.oid).str(&rel.namespace).str(&rel.name);
            w.u8(match rel.replica_identity {
                ReplicaIdentity::Default => b'd',
                ReplicaIdentity::Nothing => b'n',
                ReplicaIdentity::Full => b'f',
                ReplicaIdentity::Index => b'i',
            });
            w.count16(rel.columns.len());
            for col in &rel.columns {
                w.u8(u8::from(col.key))
                    .str(&col.name)
                    .u32(col.type_oid)
                    .i32(col.type_modifier);
            }
        }
        Message::Type {
            oid,
            namespace,
            name,
        } => {
            w.u8(b'Y').u32(*oid).str(namespace).str(name);
        }
        Message::Insert { relation, new } => {
            w.u8(b'I').u32(*relation).tuple(b'N', new);
        }
        Message::Update { relation, old, new } => {
            w.u8(b'U').u32(*relation);
            if let Some(old) = old {
                w.old_row(old);
            }
            w.tuple(b'N', new);
        }
        Message::Delete { relation, old } => {
            w.u8(b'D').u32(*relation).old_row(old);
        }
        Message::Truncate {
            relations,
            cascade,
            restart_identity,
        } => {
            let count = u32::try_from(relations.len()).expect("too many relations for pgoutput");
            w.u8(b'T')
                .u32(count)
                .u8(u8::from(*cascade) | u8::from(*restart_identity) << 1);
            for oid in relations {
                w.u32(*oid);
            }
        }
        Message::Message {
            transactional,
            lsn,
            prefix,
            content,
        } => {
            w.u8(b'M')
                .u8(u8::from(*transactional))
                .u64(*lsn)
                .str(prefix)
                .bytes(content);
        }
    }
    w.0
}

/// Output buffer whose methods chain, so each message's layout reads as one line.
struct Writer(Vec<u8>);

impl Writer {
    write_be!(u8, u16, u32, i32, u64, i64);

    fn str(&mut self, s: &str) -> &mut Self {
        self.0.extend(s.as_bytes());
        self.u8(0)
    }

    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let len = i32::try_from(bytes.len()).expect("value too long for pgoutput");
        self.i32(len).0.extend(bytes);
        self
    }

    fn count16(&mut self, count: usize) -> &mut Self {
        self.u16(u16::try_from(count).expect("too many columns for pgoutput"))
    }

    fn old_row(&mut self, old: &OldRow) -> &mut Self {
        match old {
            OldRow::Key(values) => self.tuple(b'K', values),
            OldRow::Full(values) => self.tuple(b'O', values),
        }
    }

    fn tuple(&mut self, marker: u8, values: &[Value]) -> &mut Self {
        self.u8(marker).count16(values.len());
        for value in values {
            match value {
                Value::Null => self.u8(b'n'),
                Value::UnchangedToast => self.u8(b'u'),
                Value::Text(bytes) => self.u8(b't').bytes(bytes),
                Value::Binary(bytes) => self.u8(b'b').bytes(bytes),
            };
        }
        self
    }
}

/// Converts a pgoutput commit time (microseconds since 2000-01-01 00:00 UTC) to UTC. Values
/// beyond chrono's range (such as PostgreSQL's `infinity`) saturate instead of failing.
pub fn commit_time_utc(micros_since_2000: i64) -> DateTime<Utc> {
    let secs = micros_since_2000.div_euclid(1_000_000);
    // rem_euclid is within 0..1_000_000, so the nanoseconds always fit
    let nanos = u32::try_from(micros_since_2000.rem_euclid(1_000_000) * 1_000).unwrap_or(0);
    let saturated = if micros_since_2000 < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    };
    secs.checked_add(PG_EPOCH_UNIX_SECS)
        .and_then(|unix| DateTime::from_timestamp(unix, nanos))
        .unwrap_or(saturated)
}

/// Formats an LSN the way PostgreSQL prints `pg_lsn`, e.g. `16/B374D848`.
pub fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// Parses `pg_lsn` text such as `16/B374D848` (either case, 1 to 8 hex digits a half), as
/// PostgreSQL accepts it; `None` for anything else.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let half = |s: &str| {
        // from_str_radix alone would also accept a leading '+'
        let hex = (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
        hex.then(|| u32::from_str_radix(s, 16).ok()).flatten()
    };
    let (hi, lo) = text.split_once('/')?;
    Some(u64::from(half(hi)?) << 32 | u64::from(half(lo)?))
}

#[cfg(test)]
mod tests;
