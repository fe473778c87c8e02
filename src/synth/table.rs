//! One table's generated rows: column values from their generators, foreign keys drawn from
//! the rows already generated for the referenced table, CHECK constraints evaluated on each
//! row, and unique sets kept unique by drawing again.

use std::collections::{HashMap, HashSet};

use rand::RngCore;

use super::value::{ColumnGen, Refusal};
use crate::anonymize::gen::below;
use crate::catalog::TableName;
use crate::rules::When;

/// Draws of one row before the table stops short (a unique set that has run out of
/// combinations, or a check the generators cannot meet).
const ATTEMPTS: usize = 200;

/// A foreign key of the table being generated.
#[derive(Debug, Clone)]
pub struct FkGen {
    /// Constraint name, for messages.
    pub name: String,
    /// Positions of its columns in the table's column list.
    pub columns: Vec<usize>,
    /// The referenced table.
    pub parent: TableName,
    /// Positions of the referenced columns in the parent's column list.
    pub parent_columns: Vec<usize>,
    /// Every column may be NULL.
    pub nullable: bool,
    /// Filled after every table is generated (it breaks a cycle of foreign keys).
    pub deferred: bool,
}

/// How one table is generated.
#[derive(Debug, Clone)]
pub struct TableGen {
    /// The table.
    pub table: TableName,
    /// Its columns as loaded (generated columns left out), in attribute order.
    pub columns: Vec<ColumnGen>,
    /// Its foreign keys.
    pub fks: Vec<FkGen>,
    /// Unique column sets (positions) that sequences do not already make unique.
    pub unique: Vec<Vec<usize>>,
    /// CHECK constraints evaluated on each row, as written and compiled.
    pub checks: Vec<(String, When)>,
    /// Rows asked for.
    pub rows: u64,
}

/// Rows generated for one table, as text values (`None` is NULL).
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<Option<String>>>,
    /// Why the table has fewer rows than asked, when it has.
    pub short: Option<String>,
}

/// One generated row: text values, `None` for NULL.
pub type Row = Vec<Option<String>>;

/// A failure that stops the generation.
#[derive(Debug)]
pub struct GenError(pub String);

/// Keys of a table drawn ahead of its rows (see [`TableGen::keys`]).
#[derive(Debug, Clone)]
pub struct Keys {
    /// Positions of the key columns.
    pub columns: Vec<usize>,
    /// One full-width row per row to come, only the key columns set.
    pub rows: Rows,
}

impl TableGen {
    /// Generates the table's rows with `rng`; `parents` holds the rows of every referenced
    /// table generated before it.
    pub fn generate(
        &self,
        rng: &mut dyn RngCore,
        parents: &HashMap<TableName, Rows>,
    ) -> Result<Rows, GenError> {
        self.generate_around(rng, parents, None)
    }

    /// Draws the values of `columns` (none of them a foreign key column) for every row the
    /// table will have, before anything it references exists: a table of a cycle of NOT
    /// NULL keys draws its references from them, and [`TableGen::generate_around`] then
    /// builds the rows around them. Unique sets within `columns` hold; checks are left to
    /// the rows, since they may name other columns.
    pub fn keys(&self, rng: &mut dyn RngCore, columns: &[usize]) -> Result<Keys, GenError> {
        let within = |set: &Vec<usize>| -> Option<Vec<usize>> {
            set.iter()
                .map(|c| columns.iter().position(|k| k == c))
                .collect()
        };
        let alone = TableGen {
            table: self.table.clone(),
            columns: columns.iter().map(|&c| self.columns[c].clone()).collect(),
            fks: Vec::new(),
            unique: self.unique.iter().filter_map(within).collect(),
            checks: Vec::new(),
            rows: self.rows,
        };
        let drawn = alone.generate(rng, &HashMap::new())?;
        let rows = drawn
            .rows
            .into_iter()
            .map(|values| {
                let mut row: Row = vec![None; self.columns.len()];
                for (&c, v) in columns.iter().zip(values) {
                    row[c] = v;
                }
                row
            })
            .collect();
        Ok(Keys {
            columns: columns.to_vec(),
            rows: Rows {
                columns: self.columns.iter().map(|c| c.name.clone()).collect(),
                rows,
                short: drawn.short,
            },
        })
    }

    /// Generates the rows, row `i` taking the `i`-th of `keys` when given (at most as many
    /// rows as keys).
    pub fn generate_around(
        &self,
        rng: &mut dyn RngCore,
        parents: &HashMap<TableName, Rows>,
        keys: Option<&Keys>,
    ) -> Result<Rows, GenError> {
        let width = self.columns.len();
        let mut out = Rows {
            columns: self.columns.iter().map(|c| c.name.clone()).collect(),
            rows: Vec::with_capacity(self.rows as usize),
            short: None,
        };
        let in_fk: HashSet<usize> = self
            .fks
            .iter()
            .flat_map(|f| f.columns.iter().copied())
            .collect();
        let fixed: HashSet<usize> = keys
            .map(|k| k.columns.iter().copied().collect())
            .unwrap_or_default();
        let total = keys.map_or(self.rows, |k| self.rows.min(k.rows.rows.len() as u64));
        let mut seen: Vec<HashSet<Vec<String>>> = vec![HashSet::new(); self.unique.len()];
        'rows: for i in 0..total {
            let mut why = String::new();
            for _ in 0..ATTEMPTS {
                let mut row: Vec<Option<String>> = match keys {
                    Some(k) => k.rows.rows[i as usize].clone(),
                    None => vec![None; width],
                };
                for (c, col) in self.columns.iter().enumerate() {
                    if in_fk.contains(&c) || fixed.contains(&c) {
                        continue;
                    }
                    row[c] = match col.value(rng, i) {
                        Ok(v) => v,
                        Err(Refusal::Exhausted) => {
                            out.short = Some(format!(
                                "column {} has no more distinct values after {i} rows",
                                col.name
                            ));
                            break 'rows;
                        }
                        Err(Refusal::UnknownType(t)) => {
                            return Err(GenError(format!(
                                "column {}.{} is NOT NULL and of type {t}, which doppel does \
                                 not generate; give it a rule in the rules folder (for example \
                                 transformer = \"constant\") or fill the table with a seed \
                                 fixture",
                                self.table, col.name
                            )))
                        }
                    };
                }
                let mut assigned = vec![false; width];
                for fk in &self.fks {
                    if fk.deferred {
                        continue;
                    }
                    // Self-references draw from the rows so far, and this one as it stands.
                    let current = (fk.parent == self.table).then(|| row.clone());
                    let own = current.as_ref().map(|c| (&out.rows, c));
                    let pool = parents.get(&fk.parent).map(|p| &p.rows);
                    if let Err(e) = pick_parent(rng, fk, pool, own, &mut row, &mut assigned) {
                        return Err(GenError(format!(
                            "{}: foreign key {}: {e}",
                            self.table, fk.name
                        )));
                    }
                }
                if let Some((def, _)) = self.checks.iter().find(|(_, when)| {
                    when.eval(&|name| {
                        let at = out.columns.iter().position(|c| c == name)?;
                        Some(row[at].as_deref())
                    }) == Some(false)
                }) {
                    why = format!("no draw met {def}");
                    continue;
                }
                let keys: Vec<Option<Vec<String>>> = self
                    .unique
                    .iter()
                    .map(|set| set.iter().map(|&c| row[c].clone()).collect())
                    .collect();
                if let Some(at) = keys
                    .iter()
                    .enumerate()
                    .position(|(k, key)| key.as_ref().is_some_and(|key| seen[k].contains(key)))
                {
                    let names: Vec<&str> = self.unique[at]
                        .iter()
                        .map(|&c| out.columns[c].as_str())
                        .collect();
                    why = format!(
                        "unique ({}) has no more combinations of the generated values",
                        names.join(", ")
                    );
                    continue;
                }
                for (k, key) in keys.into_iter().enumerate() {
                    if let Some(key) = key {
                        seen[k].insert(key);
                    }
                }
                out.rows.push(row);
                continue 'rows;
            }
            out.short = Some(why);
            break;
        }
        if out.short.is_none() && (out.rows.len() as u64) < self.rows {
            out.short = keys.and_then(|k| k.rows.short.clone());
        }
        Ok(out)
    }
}

/// Fills `fk`'s columns of `row` from a row of the parent (`pool`), or of the table itself
/// so far (`own`: the rows before this one, and this one when the key may not be NULL, so
/// that the first row can reference itself). Columns shared with a foreign key already
/// assigned keep their value: only parent rows that agree are drawn.
fn pick_parent(
    rng: &mut dyn RngCore,
    fk: &FkGen,
    pool: Option<&Vec<Vec<Option<String>>>>,
    own: Option<(&Vec<Row>, &Row)>,
    row: &mut [Option<String>],
    assigned: &mut [bool],
) -> Result<(), String> {
    let null = |row: &mut [Option<String>], assigned: &mut [bool]| {
        for &c in &fk.columns {
            if !assigned[c] {
                row[c] = None;
            }
        }
    };
    // Self-references make trees: a share of roots, the rest under earlier rows.
    let null_share = if own.is_some() { 4 } else { 10 };
    if fk.nullable && below(rng, null_share) == 0 {
        null(row, assigned);
        return Ok(());
    }
    let candidates: Vec<&Vec<Option<String>>> = match own {
        Some((before, current)) => {
            let mut c: Vec<&Vec<Option<String>>> = before.iter().collect();
            if !fk.nullable {
                c.push(current);
            }
            c
        }
        None => match pool {
            Some(p) => p.iter().collect(),
            None => Vec::new(),
        },
    };
    let fits = |p: &Vec<Option<String>>| {
        fk.columns
            .iter()
            .zip(&fk.parent_columns)
            .all(|(&c, &pc)| p[pc].is_some() && (!assigned[c] || row[c] == p[pc]))
    };
    let overlaps = fk.columns.iter().any(|&c| assigned[c]);
    let chosen = if overlaps {
        let matching: Vec<&&Vec<Option<String>>> = candidates.iter().filter(|p| fits(p)).collect();
        (!matching.is_empty()).then(|| *matching[below(rng, matching.len() as u64) as usize])
    } else {
        // Draw a few times rather than filter: parents with a NULL key are rare.
        let n = candidates.len() as u64;
        (0..if n == 0 { 0 } else { 16 })
            .map(|_| candidates[below(rng, n) as usize])
            .find(|p| fits(p))
    };
    match chosen {
        Some(p) => {
            let values: Vec<Option<String>> =
                fk.parent_columns.iter().map(|&pc| p[pc].clone()).collect();
            for (&c, v) in fk.columns.iter().zip(values) {
                row[c] = v;
                assigned[c] = true;
            }
            Ok(())
        }
        None if fk.nullable => {
            null(row, assigned);
            Ok(())
        }
        None => Err(format!(
            "{} has no generated row to reference, and the key may not be NULL; give it rows \
             with --rows {}=N",
            fk.parent, fk.parent
        )),
    }
}

impl TableGen {
    /// Whether the rows' references through `fk` may point at another parent row after the
    /// fact: no unique set and no other foreign key shares its columns, so no other row and
    /// no other key depends on their values.
    pub fn can_repoint(&self, fk: &FkGen) -> bool {
        let shared = |c: &usize| {
            self.unique.iter().any(|set| set.contains(c))
                || self
                    .fks
                    .iter()
                    .any(|f| f.name != fk.name && f.columns.contains(c))
        };
        !fk.columns.iter().any(shared)
    }
}

/// Points the rows whose key `fk` references one of `missing` (keys drawn ahead for parent
/// rows that could not be generated) at parent rows that exist.
pub fn repoint(
    rng: &mut dyn RngCore,
    fk: &FkGen,
    rows: &mut Rows,
    parent: &Rows,
    missing: &HashSet<Vec<Option<String>>>,
) -> Result<(), String> {
    let width = rows.columns.len();
    for row in &mut rows.rows {
        let key: Vec<Option<String>> = fk.columns.iter().map(|&c| row[c].clone()).collect();
        if missing.contains(&key) {
            let mut assigned = vec![false; width];
            pick_parent(rng, fk, Some(&parent.rows), None, row, &mut assigned)?;
        }
    }
    Ok(())
}

/// Fills the deferred foreign keys of `rows` (those that close a cycle) from `parent`'s rows.
pub fn backfill(rng: &mut dyn RngCore, fk: &FkGen, rows: &mut Rows, parent: &Rows) {
    let width = rows.columns.len();
    for row in &mut rows.rows {
        let mut assigned = vec![false; width];
        // Deferred keys are nullable, so this cannot fail: no parent leaves the key NULL.
        let _ = pick_parent(rng, fk, Some(&parent.rows), None, row, &mut assigned);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anonymize::ColumnType;
    use crate::synth::bounds::Bounds;
    use rand::SeedableRng;

    fn col(name: &str, ty: &str, sequential: bool, nullable: bool) -> ColumnGen {
        ColumnGen {
            name: name.into(),
            ty: ColumnType::parse(ty).unwrap(),
            bounds: Bounds::default(),
            nullable,
            sequential,
            partitions: Vec::new(),
        }
    }

    /// Foreign key `name` of the table being generated: its columns, the parent and its
    /// columns.
    fn fk(
        name: &str,
        columns: &[usize],
        parent: TableName,
        parent_columns: &[usize],
        nullable: bool,
    ) -> FkGen {
        FkGen {
            name: name.into(),
            columns: columns.to_vec(),
            parent,
            parent_columns: parent_columns.to_vec(),
            nullable,
            deferred: false,
        }
    }

    fn rng() -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(3)
    }

    #[test]
    fn references_point_at_generated_parents_and_composite_keys_stay_unique() {
        let parent = TableGen {
            table: TableName::new("public", "orders"),
            columns: vec![col("id", "integer", true, false)],
            fks: vec![],
            unique: vec![],
            checks: vec![],
            rows: 20,
        };
        let parents_rows = parent.generate(&mut rng(), &HashMap::new()).unwrap();
        let ids: HashSet<_> = parents_rows.rows.iter().map(|r| r[0].clone()).collect();
        let child = TableGen {
            table: TableName::new("public", "items"),
            columns: vec![
                col("order_id", "integer", false, false),
                col("line", "integer", false, false),
            ],
            fks: vec![fk(
                "items_order_fkey",
                &[0],
                parent.table.clone(),
                &[0],
                false,
            )],
            unique: vec![vec![0, 1]],
            checks: vec![],
            rows: 500,
        };
        let parents = HashMap::from([(parent.table.clone(), parents_rows)]);
        let rows = child.generate(&mut rng(), &parents).unwrap();
        assert_eq!(rows.rows.len(), 500, "{:?}", rows.short);
        let pairs: HashSet<_> = rows.rows.iter().cloned().collect();
        assert_eq!(pairs.len(), 500);
        assert!(rows.rows.iter().all(|r| ids.contains(&r[0])));
    }

    #[test]
    fn a_unique_set_that_runs_out_stops_the_table_short_and_says_why() {
        let t = TableGen {
            table: TableName::new("public", "flags"),
            columns: vec![col("on", "boolean", false, false)],
            fks: vec![],
            unique: vec![vec![0]],
            checks: vec![],
            rows: 5,
        };
        let rows = t.generate(&mut rng(), &HashMap::new()).unwrap();
        assert_eq!(rows.rows.len(), 2);
        assert!(rows.short.unwrap().contains("unique (on)"));
    }

    #[test]
    fn self_references_form_trees_and_checks_hold() {
        let t = TableGen {
            table: TableName::new("public", "employees"),
            columns: vec![
                col("id", "integer", true, false),
                col("manager_id", "integer", false, true),
                col("level", "integer", false, false),
            ],
            fks: vec![fk(
                "employees_manager_fkey",
                &[1],
                TableName::new("public", "employees"),
                &[0],
                true,
            )],
            unique: vec![],
            checks: vec![(
                "CHECK (level < 500)".into(),
                When::parse("level < 500").unwrap(),
            )],
            rows: 100,
        };
        let rows = t.generate(&mut rng(), &HashMap::new()).unwrap();
        assert_eq!(rows.rows.len(), 100);
        assert_eq!(
            rows.rows[0][1], None,
            "the first row has nobody to report to"
        );
        for (i, r) in rows.rows.iter().enumerate() {
            if let Some(m) = &r[1] {
                assert!(
                    m.parse::<usize>().unwrap() <= i,
                    "row {i} references a later one"
                );
            }
            assert!(r[2].as_ref().unwrap().parse::<i64>().unwrap() < 500);
        }
    }

    #[test]
    fn a_missing_parent_of_a_not_null_key_is_refused_with_what_to_do() {
        let t = TableGen {
            table: TableName::new("public", "items"),
            columns: vec![col("order_id", "integer", false, false)],
            fks: vec![fk(
                "items_order_fkey",
                &[0],
                TableName::new("public", "orders"),
                &[0],
                false,
            )],
            unique: vec![],
            checks: vec![],
            rows: 3,
        };
        let e = t.generate(&mut rng(), &HashMap::new()).unwrap_err();
        assert!(e.0.contains("--rows public.orders=N"), "{}", e.0);
    }

    #[test]
    fn keys_drawn_ahead_are_what_the_rows_get_and_what_references_point_at() {
        // region (country, code) is referenced by office before region's rows exist.
        let region = TableGen {
            table: TableName::new("public", "region"),
            columns: vec![
                col("country", "char(2)", false, false),
                col("code", "smallint", false, false),
                col("name", "text", false, false),
                col("hq_office", "integer", false, false),
            ],
            fks: vec![fk(
                "region_hq_fkey",
                &[3],
                TableName::new("public", "office"),
                &[0],
                false,
            )],
            unique: vec![vec![0, 1]],
            checks: vec![],
            rows: 40,
        };
        let keys = region.keys(&mut rng(), &[0, 1]).unwrap();
        assert_eq!(keys.rows.rows.len(), 40);
        let drawn: HashSet<_> = keys
            .rows
            .rows
            .iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect();
        assert_eq!(drawn.len(), 40, "composite keys drawn unique");
        assert!(keys
            .rows
            .rows
            .iter()
            .all(|r| r[2].is_none() && r[3].is_none()));
        let office = TableGen {
            table: TableName::new("public", "office"),
            columns: vec![
                col("id", "integer", true, false),
                col("country", "char(2)", false, false),
                col("region", "smallint", false, false),
            ],
            fks: vec![fk(
                "office_region_fkey",
                &[1, 2],
                region.table.clone(),
                &[0, 1],
                false,
            )],
            unique: vec![],
            checks: vec![],
            rows: 30,
        };
        let ahead = HashMap::from([(region.table.clone(), keys.rows.clone())]);
        let offices = office.generate(&mut rng(), &ahead).unwrap();
        assert_eq!(offices.rows.len(), 30);
        let parents = HashMap::from([(office.table.clone(), offices.clone())]);
        let regions = region
            .generate_around(&mut rng(), &parents, Some(&keys))
            .unwrap();
        assert_eq!(regions.rows.len(), 40);
        for (row, key) in regions.rows.iter().zip(&keys.rows.rows) {
            assert_eq!(row[..2], key[..2], "a row keeps the key drawn for it");
            assert!(row[2].is_some() && row[3].is_some());
        }
        for o in &offices.rows {
            assert!(
                drawn.contains(&(o[1].clone().unwrap(), o[2].clone().unwrap())),
                "office {o:?} references a region that exists"
            );
        }
    }

    #[test]
    fn fewer_keys_than_rows_stop_the_rows_there_and_say_why() {
        let t = TableGen {
            table: TableName::new("public", "flags"),
            columns: vec![
                col("on", "boolean", false, false),
                col("label", "text", false, false),
            ],
            fks: vec![],
            unique: vec![vec![0]],
            checks: vec![],
            rows: 5,
        };
        let keys = t.keys(&mut rng(), &[0]).unwrap();
        assert_eq!(keys.rows.rows.len(), 2);
        let rows = t
            .generate_around(&mut rng(), &HashMap::new(), Some(&keys))
            .unwrap();
        assert_eq!(rows.rows.len(), 2);
        assert!(rows.short.unwrap().contains("unique (on)"));
    }

    #[test]
    fn references_to_keys_whose_rows_never_came_move_to_rows_that_did() {
        let fk = fk(
            "staff_store_fkey",
            &[1],
            TableName::new("public", "store"),
            &[0],
            false,
        );
        let value = |v: &str| Some(v.to_string());
        let mut staff = Rows {
            columns: vec!["id".into(), "store_id".into()],
            rows: (1..=5)
                .map(|i| vec![value(&format!("{}", 10 + i)), value(&i.to_string())])
                .collect(),
            short: None,
        };
        let stores = Rows {
            columns: vec!["store_id".into()],
            rows: (1..=3).map(|i| vec![value(&i.to_string())]).collect(),
            short: None,
        };
        let missing: HashSet<_> = [vec![value("4")], vec![value("5")]].into_iter().collect();
        repoint(&mut rng(), &fk, &mut staff, &stores, &missing).unwrap();
        for (i, row) in staff.rows.iter().enumerate() {
            let store: u32 = row[1].as_deref().unwrap().parse().unwrap();
            if i < 3 {
                assert_eq!(
                    store as usize,
                    i + 1,
                    "a reference to a store that exists stays"
                );
            } else {
                assert!((1..=3).contains(&store), "row {i} still points at {store}");
            }
        }
        let mut t = TableGen {
            table: TableName::new("public", "staff"),
            columns: vec![
                col("id", "integer", true, false),
                col("store_id", "integer", false, false),
            ],
            fks: vec![fk.clone()],
            unique: vec![],
            checks: vec![],
            rows: 5,
        };
        assert!(t.can_repoint(&fk));
        t.unique = vec![vec![1]];
        assert!(
            !t.can_repoint(&fk),
            "a unique key cannot take another value after the fact"
        );
    }
}
