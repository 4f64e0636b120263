//! The shape every journal document must have: which keys exist at each level, what kind of value each one
//! holds and how large it may be. Anything else (a key the schema does not know, an object where a value
//! belongs, a text object where a plain string belongs, an oversized value) is refused before the typed view
//! is read, so a document is never deeper than a root map of maps of fields, and no value grows unbounded.

use automerge::{
    Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef,
};

use crate::error::SchemaError;
use crate::ids::{DocId, DocKind};

/// Longest key of any map, in bytes (ids are at most 64 characters; composite keys join a few of them).
pub const MAX_KEY_BYTES: usize = 256;

/// Largest JSON entry (a mark, an attendance entry, a roster entry, a guardian…), in bytes: room for the
/// longest comment or note the validator allows and the entry's other fields.
pub const MAX_ENTRY_BYTES: usize = 32 * 1024;

/// Largest school settings value, in bytes.
pub const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// Largest thematic plan of one subject and term, in bytes.
pub const MAX_PLAN_BYTES: usize = 256 * 1024;

/// Largest message, in bytes: its text and up to 512 KiB of attachments, base64-encoded.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// Longest lesson field (a topic or a homework text of 4,000 characters), in bytes.
const MAX_FIELD_BYTES: usize = 16 * 1024;

/// What a value may be.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// A plain (immutable) string of at most this many bytes.
    Text(usize),
    /// A plain string holding one JSON entry of at most this many bytes.
    Json(usize),
    /// A non-negative whole number.
    Number,
    /// `true` (membership).
    Flag,
    /// A map whose entries all follow the entry rule.
    Map(Entry),
    /// A lesson: a map of its known fields.
    Lesson,
}

/// What the entries of a root map may be.
#[derive(Clone, Copy, Debug)]
enum Entry {
    /// JSON entries of at most this many bytes.
    Json(usize),
    /// Lessons: maps of known fields.
    Lesson,
    /// Membership flags.
    Flag,
}

const ID: Rule = Rule::Text(MAX_KEY_BYTES);

/// The rule for a root key of a document of `kind`; `None` when the schema has no such key.
fn root_rule(kind: DocKind, key: &str) -> Option<Rule> {
    match (kind, key) {
        (_, "kind" | "id") => Some(ID),
        (_, "schema") => Some(Rule::Number),
        (DocKind::School, "settings") => Some(Rule::Json(MAX_SETTINGS_BYTES)),
        (DocKind::School, "subjects") => Some(Rule::Map(Entry::Json(MAX_ENTRY_BYTES))),
        (DocKind::School, key) if key.starts_with("staff/") => Some(Rule::Text(MAX_KEY_BYTES)),
        (DocKind::Class, "info") => Some(Rule::Json(MAX_ENTRY_BYTES)),
        (DocKind::Class, "roster" | "subjects") => Some(Rule::Map(Entry::Json(MAX_ENTRY_BYTES))),
        (DocKind::Class, "lessons") => Some(Rule::Map(Entry::Lesson)),
        (DocKind::Class, key) if key.starts_with("plan/") => Some(Rule::Json(MAX_PLAN_BYTES)),
        (DocKind::Student, "class") => Some(ID),
        (DocKind::Student, "marks" | "attendance" | "final_marks") => {
            Some(Rule::Map(Entry::Json(MAX_ENTRY_BYTES)))
        }
        (DocKind::Profile, "student") => Some(Rule::Json(MAX_ENTRY_BYTES)),
        (DocKind::Profile, "guardians") => Some(Rule::Map(Entry::Json(MAX_ENTRY_BYTES))),
        (DocKind::Profile, "last_reviewed") => Some(ID),
        (DocKind::Thread, "info") => Some(Rule::Json(MAX_ENTRY_BYTES)),
        (DocKind::Thread, "participants") => Some(Rule::Map(Entry::Flag)),
        (DocKind::Thread, "messages") => Some(Rule::Map(Entry::Json(MAX_MESSAGE_BYTES))),
        (DocKind::Thread, key) if key.starts_with("read/") => Some(ID),
        (DocKind::Thread, key) if key.starts_with("arrived/") => Some(Rule::Number),
        _ => None,
    }
}

/// The rule for a field of a lesson.
fn lesson_rule(field: &str) -> Option<Rule> {
    match field {
        "date" | "subject" | "teacher" | "homework_due" => Some(ID),
        "period" => Some(Rule::Number),
        "topic" | "homework" => Some(Rule::Text(MAX_FIELD_BYTES)),
        _ => None,
    }
}

/// What a value is, as far as the shape cares.
#[derive(Clone, Copy, Debug)]
enum Found<'a> {
    Text(&'a str),
    Number,
    True,
    Map,
    TextObject,
    OtherObject,
    OtherScalar,
}

impl<'a> Found<'a> {
    fn of_ref(value: &'a ValueRef<'_>) -> Found<'a> {
        match value {
            ValueRef::Object(kind) => Found::object(*kind),
            ValueRef::Scalar(scalar) => match scalar {
                ScalarValueRef::Str(text) => Found::Text(text),
                ScalarValueRef::Uint(_) => Found::Number,
                ScalarValueRef::Int(n) if *n >= 0 => Found::Number,
                ScalarValueRef::Boolean(true) => Found::True,
                _ => Found::OtherScalar,
            },
        }
    }

    fn of_value(value: &'a Value<'_>) -> Found<'a> {
        match value {
            Value::Object(kind) => Found::object(*kind),
            Value::Scalar(scalar) => match scalar.as_ref() {
                ScalarValue::Str(text) => Found::Text(text),
                ScalarValue::Uint(_) => Found::Number,
                ScalarValue::Int(n) if *n >= 0 => Found::Number,
                ScalarValue::Boolean(true) => Found::True,
                _ => Found::OtherScalar,
            },
        }
    }

    fn object(kind: ObjType) -> Found<'a> {
        match kind {
            ObjType::Map => Found::Map,
            ObjType::Text => Found::TextObject,
            _ => Found::OtherObject,
        }
    }
}

/// Checks that the document has the shape of its kind, every concurrent value included.
pub fn check_shape(id: &DocId, doc: &Automerge) -> Result<(), SchemaError> {
    let kind = id.kind();
    let place = format!("the root of a {} document", kind.as_str());
    walk(id, doc, &ROOT, &place, &|key| root_rule(kind, key))
}

/// Checks every entry of the map `obj` against the rule its key gets (`None`: not in the schema). The
/// value every replica reads comes with the iteration; only keys in conflict are read again, for the
/// values that lost.
fn walk(
    id: &DocId,
    doc: &Automerge,
    obj: &ObjId,
    place: &str,
    rule_for: &dyn Fn(&str) -> Option<Rule>,
) -> Result<(), SchemaError> {
    for item in doc.map_range(obj, ..) {
        let key = item.key.as_ref();
        if key.len() > MAX_KEY_BYTES {
            return Err(SchemaError::new(
                id,
                format!(
                    "a key of {} bytes in {place}; keys are at most {MAX_KEY_BYTES} bytes",
                    key.len()
                ),
            ));
        }
        let rule = rule_for(key).ok_or_else(|| unknown(id, key, place))?;
        check_value(id, doc, key, rule, Found::of_ref(&item.value), &item.id())?;
        if item.conflict {
            let all = doc
                .get_all(obj, key)
                .map_err(|e| SchemaError::new(id, e.to_string()))?;
            for (value, inner) in &all {
                check_value(id, doc, key, rule, Found::of_value(value), inner)?;
            }
        }
    }
    Ok(())
}

fn check_value(
    id: &DocId,
    doc: &Automerge,
    key: &str,
    rule: Rule,
    found: Found<'_>,
    obj: &ObjId,
) -> Result<(), SchemaError> {
    let refuse = |what: String| Err(SchemaError::new(id, what));
    match (rule, found) {
        (Rule::Text(max) | Rule::Json(max), Found::Text(text)) if text.len() <= max => Ok(()),
        (Rule::Text(max) | Rule::Json(max), Found::Text(text)) => refuse(format!(
            "{key:?} holds {} KiB; the limit is {} KiB",
            text.len().div_ceil(1024),
            max / 1024
        )),
        (Rule::Text(_) | Rule::Json(_), Found::TextObject) => refuse(format!(
            "{key:?} must be a plain string (an immutable string in automerge-repo), not a text object"
        )),
        (Rule::Number, Found::Number) | (Rule::Flag, Found::True) => Ok(()),
        (Rule::Map(entry), Found::Map) => {
            let place = format!("{key:?}");
            match entry {
                Entry::Json(max) => walk(id, doc, obj, &place, &|_| Some(Rule::Json(max))),
                Entry::Flag => walk(id, doc, obj, &place, &|_| Some(Rule::Flag)),
                Entry::Lesson => walk(id, doc, obj, &place, &|_| Some(Rule::Lesson)),
            }
        }
        (Rule::Lesson, Found::Map) => {
            let place = format!("lesson {key}");
            walk(id, doc, obj, &place, &lesson_rule)
        }
        (Rule::Lesson, _) => refuse(format!("lesson {key:?} must be a map of its fields")),
        (Rule::Map(_), _) => refuse(format!("{key:?} must be a map")),
        (_, Found::Map | Found::TextObject | Found::OtherObject) => {
            refuse(format!("{key:?} must be a single value, not an object"))
        }
        (Rule::Text(_) | Rule::Json(_), _) => refuse(format!("{key:?} must be a string")),
        (Rule::Number, _) => refuse(format!("{key:?} must be a whole number")),
        (Rule::Flag, _) => refuse(format!("{key:?} must be true")),
    }
}

fn unknown(id: &DocId, key: &str, place: &str) -> SchemaError {
    let shown: String = key.chars().take(40).collect();
    SchemaError::new(
        id,
        format!("{shown:?} in {place} is not part of the journal's schema"),
    )
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit};

    use super::*;
    use crate::docs::Document;

    fn student() -> (DocId, AutoCommit) {
        let id: DocId = "2026-2027/student/s1".parse().expect("id");
        let doc = Document::create(id.clone(), &ActorId::random()).expect("doc");
        let bytes = doc.snapshot();
        (id, AutoCommit::load(&bytes).expect("load"))
    }

    #[test]
    fn a_fresh_document_of_every_kind_has_its_shape() {
        for id in [
            "2026-2027/school",
            "2026-2027/class/5a",
            "2026-2027/student/s1",
            "2026-2027/profile/s1",
            "2026-2027/thread/t1",
        ] {
            let id: DocId = id.parse().expect("id");
            let doc = Document::create(id.clone(), &ActorId::random()).expect("doc");
            check_shape(&id, doc.automerge()).expect("the skeleton is in shape");
        }
    }

    #[test]
    fn unknown_keys_nested_objects_and_text_objects_are_refused() {
        let (id, mut doc) = student();
        doc.put_object(ROOT, "evil", ObjType::Map).expect("put");
        let e = check_shape(&id, doc.document()).expect_err("unknown root key");
        assert!(
            e.reason.contains("\"evil\"") && e.reason.contains("schema"),
            "{e}"
        );

        let (id, mut doc) = student();
        let marks = doc.get(ROOT, "marks").expect("get").expect("marks").1;
        let nested = doc.put_object(&marks, "m1", ObjType::Map).expect("put");
        doc.put_object(&nested, "deeper", ObjType::Map)
            .expect("put");
        let e = check_shape(&id, doc.document()).expect_err("an object where an entry belongs");
        assert!(e.reason.contains("single value"), "{e}");

        let (id, mut doc) = student();
        let text = doc.put_object(ROOT, "class", ObjType::Text).expect("put");
        doc.splice_text(&text, 0, 0, "5a").expect("splice");
        let e = check_shape(&id, doc.document()).expect_err("a text object");
        assert!(e.reason.contains("plain string"), "{e}");
    }

    #[test]
    fn oversized_values_are_refused_with_their_size() {
        let (id, mut doc) = student();
        let marks = doc.get(ROOT, "marks").expect("get").expect("marks").1;
        doc.put(&marks, "m1", "x".repeat(MAX_ENTRY_BYTES + 1))
            .expect("put");
        let e = check_shape(&id, doc.document()).expect_err("too big");
        assert!(e.reason.contains("the limit is 32 KiB"), "{e}");
    }
}
