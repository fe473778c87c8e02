//! The rules applied to archived changes: each row image (new row, old key, old row) goes
//! through the same rewriter a snapshot's COPY rows go through, so a deterministic keyed
//! transformer gives a changed row the value the snapshot gave it, and an anonymized replay
//! finds the anonymized rows of an anonymized base by their (anonymized) keys.

use std::collections::HashMap;
use std::sync::Arc;

use super::pgoutput::{Message, OldRow, Relation, Value};
use crate::anonymize::Key;
use crate::catalog::TableName;
use crate::copytext::{encode_field, FieldSplitter};
use crate::error::{Error, Result};
use crate::rules::{CompiledRules, Rewriter, TableAction, TableTransform};

/// What becomes of a table's changes.
enum Fate {
    /// Stored as they are.
    Keep,
    /// Rewritten by the table's rules.
    Rewrite(Arc<TableTransform>),
    /// Not stored: the snapshot leaves the table out or empty.
    Drop,
}

/// Applies compiled rules to a stream of pgoutput messages.
pub struct ChangeRules {
    rules: Arc<CompiledRules>,
    key: Arc<Key>,
    /// By relation id, from the last Relation message.
    tables: HashMap<u32, Fate>,
    fields: FieldSplitter,
}

impl ChangeRules {
    /// Rules checked against the source's catalog, with their key.
    pub fn new(rules: Arc<CompiledRules>, key: Arc<Key>) -> ChangeRules {
        ChangeRules {
            rules,
            key,
            tables: HashMap::new(),
            fields: FieldSplitter::new(),
        }
    }

    /// Rewrites `message`; `None` when it must not be stored (a change of a table the
    /// snapshots leave out or empty). A Relation message binds its table's rules to its
    /// columns; a table the rules do not cover stops the archive, as it stops a snapshot.
    pub fn apply(&mut self, message: Message) -> Result<Option<Message>> {
        match message {
            Message::Relation(rel) => {
                self.bind(&rel)?;
                Ok(Some(Message::Relation(rel)))
            }
            Message::Insert { relation, mut new } => {
                if !self.row(relation, &mut new)? {
                    return Ok(None);
                }
                Ok(Some(Message::Insert { relation, new }))
            }
            Message::Update {
                relation,
                mut old,
                mut new,
            } => {
                if let Some(old) = &mut old {
                    self.old(relation, old)?;
                }
                if !self.row(relation, &mut new)? {
                    return Ok(None);
                }
                Ok(Some(Message::Update { relation, old, new }))
            }
            Message::Delete { relation, mut old } => {
                if !self.old(relation, &mut old)? {
                    return Ok(None);
                }
                Ok(Some(Message::Delete { relation, old }))
            }
            Message::Truncate {
                relations,
                cascade,
                restart_identity,
            } => {
                let relations: Vec<u32> = relations
                    .into_iter()
                    .filter(|r| !matches!(self.tables.get(r), Some(Fate::Drop)))
                    .collect();
                if relations.is_empty() {
                    return Ok(None);
                }
                Ok(Some(Message::Truncate {
                    relations,
                    cascade,
                    restart_identity,
                }))
            }
            // Logical decoding messages (pg_logical_emit_message) may carry anything: an
            // anonymized archive keeps none.
            Message::Message { .. } => Ok(None),
            other => Ok(Some(other)),
        }
    }

    fn bind(&mut self, rel: &Relation) -> Result<()> {
        let table = TableName::new(rel.namespace.clone(), rel.name.clone());
        let columns: Vec<String> = rel.columns.iter().map(|c| c.name.clone()).collect();
        let fate = match self.rules.bind(&table, &columns)? {
            TableAction::Copy => Fate::Keep,
            TableAction::Transform(t) => Fate::Rewrite(t),
            TableAction::SchemaOnly | TableAction::Skip => Fate::Drop,
        };
        self.tables.insert(rel.oid, fate);
        Ok(())
    }

    fn old(&mut self, relation: u32, old: &mut OldRow) -> Result<bool> {
        match old {
            OldRow::Key(values) | OldRow::Full(values) => self.row(relation, values),
        }
    }

    /// Rewrites one row image in place; false when the table's changes are not stored.
    fn row(&mut self, relation: u32, values: &mut [Value]) -> Result<bool> {
        let transform = match self.tables.get(&relation) {
            Some(Fate::Keep) => return Ok(true),
            Some(Fate::Drop) => return Ok(false),
            Some(Fate::Rewrite(t)) => t.clone(),
            None => {
                return Err(Error::Anonymization(format!(
                    "a change of relation {relation} arrived before its Relation message: \
                     the archive cannot tell which rules apply"
                )))
            }
        };
        // One row image, alone: unique sets are checked against the snapshot's rows by
        // the snapshot, and a row updated twice legitimately repeats its key.
        let mut rewriter = Rewriter::for_part(
            transform.clone(),
            self.key.clone(),
            Rewriter::seen_keys(&transform),
        );
        let mut row = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                row.push(b'\t');
            }
            match v {
                Value::Text(bytes) | Value::Binary(bytes) => encode_field(Some(bytes), &mut row),
                // An unchanged TOAST value is not sent: the rule sees NULL, and the
                // placeholder is put back below, so replay leaves the stored value as is.
                Value::Null | Value::UnchangedToast => encode_field(None, &mut row),
            }
        }
        let mut out = Vec::with_capacity(row.len());
        rewriter.rewrite(&row, &mut out)?;
        out.pop(); // the row's '\n'
        let fields = self.fields.split(&out);
        for (i, v) in values.iter_mut().enumerate() {
            if matches!(v, Value::UnchangedToast) {
                continue;
            }
            let decoded = fields.decode(i).map_err(|e| {
                Error::Anonymization(format!(
                    "table {}: a rewritten change is not valid COPY text ({e})",
                    transform.table()
                ))
            })?;
            *v = match decoded {
                None => Value::Null,
                Some(bytes) => Value::Text(bytes.into_owned()),
            };
        }
        Ok(true)
    }
}
