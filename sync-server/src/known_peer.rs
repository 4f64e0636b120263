//! Answering a peer the relay already knows from the changes stored after its heads, without loading the
//! document: the typical morning, when a family's phone last synced yesterday and has written nothing
//! since. The reply and the sync state are what Automerge's own would be, except that a peer missing more
//! than a third of the document gets the changes it lacks instead of the whole document.

use automerge::ChangeHash;
use automerge::sync::{
    BloomFilter, Capability, ChunkList, Have, Message, MessageFlags, MessageVersion, State,
};

use crate::store::{DocumentStore, StoreError};

/// The reply to `message` from a peer with sync `state` (`Some(None)`: nothing to say), read from the
/// changes stored after the peer's heads; `state` moves on as Automerge's would. `None`, with `state`
/// untouched, when this peer needs the document itself: it sent changes or asked for some, its heads
/// were never indexed, or the changes it lacks are kept only inside the snapshot.
pub fn answer(
    store: &dyn DocumentStore,
    id: &str,
    state: &mut State,
    message: &Message,
) -> Result<Option<Option<Vec<u8>>>, StoreError> {
    if !message.changes.is_empty()
        || !message.need.is_empty()
        || message.heads.is_empty()
        || state.read_only
        || state.needs_reset
    {
        return Ok(None);
    }
    let flags = message.flags.unwrap_or_default();
    if flags.contains(MessageFlags::READ_ONLY) {
        return Ok(None);
    }
    // A peer that has written nothing since its last sync with us says so: its one `have` starts at its
    // heads, or at nothing (a device that got the document whole), and its bloom filter holds no change
    // it lacks.
    let [have] = message.have.as_slice() else {
        return Ok(None);
    };
    let mut their_heads = message.heads.clone();
    their_heads.sort();
    let mut last_sync = have.last_sync.clone();
    last_sync.sort();
    if !last_sync.is_empty() && last_sync != their_heads {
        return Ok(None);
    }
    let their_hex: Vec<String> = their_heads.iter().map(ToString::to_string).collect();
    let Some(missing) = store.changes_after_heads(id, &their_hex)? else {
        return Ok(None);
    };
    let Some(mut our_heads) = parse_hashes(missing.heads.iter().map(String::as_str)) else {
        return Ok(None);
    };
    our_heads.sort();
    // In stored order, which is causal: each change after those it depends on.
    let Some(lacking) = parse_hashes(missing.changes.iter().map(|c| c.hash.as_str())) else {
        return Ok(None);
    };
    // Automerge would hold back a change the filter wrongly claims the peer has; such a rare peer is
    // answered from the document.
    if lacking.iter().any(|hash| have.bloom.contains_hash(hash)) {
        return Ok(None);
    }
    let caught_up = their_heads == our_heads;
    // What we sent earlier in this session and the peer has not confirmed: only Automerge's change graph
    // can tell which of it the peer's heads now cover.
    let reset = flags.contains(MessageFlags::SYNC_RESET);
    if !state.sent_hashes.is_empty() && !caught_up && !reset {
        return Ok(None);
    }

    // Receiving, as `receive_sync_message` does for a message without changes whose heads we all know.
    let mut next = state.clone();
    next.in_flight = false;
    if let Some(flags) = message.flags {
        let mut capabilities = vec![Capability::MessageV2];
        if flags.contains(MessageFlags::SUPPORTS_SYNC_RESET) {
            capabilities.push(Capability::SyncReset);
        }
        next.their_capabilities = Some(capabilities);
        next.peer_read_only = false;
    }
    if reset || caught_up {
        next.sent_hashes.clear();
    }
    if caught_up {
        next.last_sent_heads.clone_from(&message.heads);
    }
    next.shared_heads.clone_from(&message.heads);
    next.their_have = Some(message.have.clone());
    next.their_heads = Some(message.heads.clone());
    next.their_need = Some(Vec::new());

    // Generating, as `generate_sync_message` does for a peer that lacks exactly `lacking`.
    let sending: Vec<usize> = (0..lacking.len())
        .filter(|&i| !next.sent_hashes.contains(&lacking[i]))
        .collect();
    if next.last_sent_heads == our_heads && next.have_responded {
        if caught_up && sending.is_empty() {
            *state = next;
            return Ok(Some(None));
        }
        if next.in_flight {
            *state = next;
            return Ok(Some(None));
        }
    }
    next.have_responded = true;
    next.last_sent_heads.clone_from(&our_heads);
    next.sent_hashes.extend(sending.iter().map(|&i| lacking[i]));
    let v2 = next
        .their_capabilities
        .as_ref()
        .is_some_and(|c| c.contains(&Capability::MessageV2));
    let chunks: Vec<Vec<u8>> = if v2 {
        let joined: Vec<u8> = sending
            .iter()
            .flat_map(|&i| missing.changes[i].bytes.iter().copied())
            .collect();
        if joined.is_empty() {
            Vec::new()
        } else {
            vec![joined]
        }
    } else {
        sending
            .iter()
            .map(|&i| missing.changes[i].bytes.clone())
            .collect()
    };
    let mut flags = MessageFlags::new();
    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
    let reply = Message {
        heads: our_heads,
        need: Vec::new(),
        have: vec![Have {
            last_sync: next.shared_heads.clone(),
            bloom: BloomFilter::from_hashes(lacking.iter()),
        }],
        changes: ChunkList::from(chunks),
        flags: Some(flags),
        version: if v2 {
            MessageVersion::V2
        } else {
            MessageVersion::V1
        },
    };
    next.in_flight = true;
    *state = next;
    Ok(Some(Some(reply.encode())))
}

fn parse_hashes<'a>(hex: impl Iterator<Item = &'a str>) -> Option<Vec<ChangeHash>> {
    hex.map(|h| h.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ROOT};

    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Attribution, NewChange};

    fn by() -> Attribution {
        Attribution {
            account: "teacher".into(),
            device: "tablet".into(),
            at: 1_800_000_000,
        }
    }

    fn put(doc: &mut Automerge, key: &str, value: i64) {
        let mut tx = doc.transaction();
        tx.put(ROOT, key, value).expect("put");
        tx.commit();
    }

    fn heads(doc: &Automerge) -> Vec<String> {
        let mut heads: Vec<String> = doc.get_heads().iter().map(ToString::to_string).collect();
        heads.sort();
        heads
    }

    /// Stores what `doc` has beyond `since`, written from a copy that held exactly what is stored.
    fn store_after(store: &SqliteStore, doc: &Automerge, since: &[ChangeHash]) {
        let base: Vec<String> = if since.is_empty() {
            Vec::new()
        } else {
            let mut base: Vec<String> = since.iter().map(ToString::to_string).collect();
            base.sort();
            base
        };
        let changes: Vec<NewChange> = doc
            .get_changes(since)
            .into_iter()
            .map(NewChange::of)
            .collect();
        store
            .append_changes("d", &changes, &heads(doc), &by(), None, Some(&base))
            .expect("stored");
    }

    /// What a session keeps of a sync state between sessions.
    fn persisted(state: &State) -> State {
        State::decode(&state.encode()).expect("decodes")
    }

    fn sync_fully(
        relay: &mut Automerge,
        at_relay: &mut State,
        peer: &mut Automerge,
        at_peer: &mut State,
    ) {
        for _ in 0..10 {
            let to_relay = peer.generate_sync_message(at_peer);
            if let Some(m) = to_relay.clone() {
                relay
                    .receive_sync_message(at_relay, m)
                    .expect("relay receives");
            }
            let to_peer = relay.generate_sync_message(at_relay);
            if let Some(m) = to_peer.clone() {
                peer.receive_sync_message(at_peer, m)
                    .expect("peer receives");
            }
            if to_relay.is_none() && to_peer.is_none() {
                return;
            }
        }
        panic!("sync did not settle");
    }

    /// A phone that synced yesterday; overnight two teachers wrote, concurrently. Also the document as it
    /// was yesterday, saved whole.
    fn yesterday_and_overnight() -> (SqliteStore, Automerge, Automerge, State, State, Vec<u8>) {
        let store = SqliteStore::open_in_memory().expect("store");
        let mut relay = Automerge::new().with_actor(ActorId::from(&[1u8; 16][..]));
        for i in 0..12 {
            put(&mut relay, &format!("k{i}"), i);
        }
        store_after(&store, &relay, &[]);
        let mut phone = Automerge::new().with_actor(ActorId::from(&[2u8; 16][..]));
        let (mut at_relay, mut at_phone) = (State::new(), State::new());
        sync_fully(&mut relay, &mut at_relay, &mut phone, &mut at_phone);
        assert_eq!(phone.get_heads(), relay.get_heads());

        let yesterday = relay.get_heads();
        let saved = relay.save();
        let mut other = relay.fork().with_actor(ActorId::from(&[3u8; 16][..]));
        put(&mut relay, "morning", 1);
        put(&mut relay, "late", 2);
        put(&mut other, "concurrent", 3);
        relay.merge(&mut other).expect("merge");
        assert_eq!(relay.get_heads().len(), 2, "two heads");
        store_after(&store, &relay, &yesterday);
        (
            store,
            relay,
            phone,
            persisted(&at_relay),
            persisted(&at_phone),
            saved,
        )
    }

    #[test]
    fn a_known_peer_gets_what_automerge_would_send_and_catches_up() {
        let (store, relay, mut phone, at_relay, mut at_phone, _) = yesterday_and_overnight();
        let (mut fast, mut slow) = (at_relay.clone(), at_relay);
        let mut answered = 0;
        for _ in 0..5 {
            let Some(message) = phone.generate_sync_message(&mut at_phone) else {
                break;
            };
            let reply = answer(&store, "d", &mut fast, &message)
                .expect("read")
                .expect("answered from the stored changes");
            answered += 1;
            let mut loaded =
                Automerge::load(&store.load_document("d").expect("read").expect("stored"))
                    .expect("loads");
            loaded
                .receive_sync_message(&mut slow, message)
                .expect("receives");
            let expected = loaded.generate_sync_message(&mut slow);
            assert_eq!(fast, slow, "the relay's sync state moves as Automerge's");
            match (reply, expected) {
                (None, None) => {}
                (Some(ours), Some(theirs)) => {
                    let ours = Message::decode(&ours).expect("decodes");
                    assert_eq!(
                        (&ours.heads, &ours.need, &ours.have, &ours.flags),
                        (&theirs.heads, &theirs.need, &theirs.have, &theirs.flags)
                    );
                    let (mut a, mut b) = (phone.fork(), phone.fork());
                    let (mut state_a, mut state_b) = (at_phone.clone(), at_phone.clone());
                    a.receive_sync_message(&mut state_a, ours.clone())
                        .expect("applies");
                    b.receive_sync_message(&mut state_b, theirs)
                        .expect("applies");
                    assert_eq!(a.get_heads(), b.get_heads(), "the same changes arrive");
                    assert_eq!(state_a, state_b);
                    phone
                        .receive_sync_message(&mut at_phone, ours)
                        .expect("applies");
                }
                (ours, theirs) => panic!("answered {ours:?}, Automerge {theirs:?}"),
            }
        }
        assert!(answered >= 2, "both of the phone's messages were answered");
        assert_eq!(phone.get_heads(), relay.get_heads(), "the phone caught up");
    }

    #[test]
    fn a_phone_that_got_the_document_whole_is_answered_as_automerge_would() {
        let (store, relay, _, at_relay, _, yesterday) = yesterday_and_overnight();
        // Yesterday's document, received whole, leaves no sync state behind.
        let mut phone = Automerge::load(&yesterday).expect("loads");
        let full = Automerge::load(&store.load_document("d").expect("read").expect("stored"))
            .expect("loads");
        let mut at_phone = State::new();
        let (mut fast, mut slow) = (at_relay.clone(), at_relay);
        let message = phone
            .generate_sync_message(&mut at_phone)
            .expect("a message");
        assert!(message.have[0].last_sync.is_empty());
        let reply = answer(&store, "d", &mut fast, &message)
            .expect("read")
            .expect("answered from the stored changes")
            .expect("a reply");
        let mut loaded = full;
        loaded
            .receive_sync_message(&mut slow, message)
            .expect("receives");
        let expected = loaded.generate_sync_message(&mut slow).expect("a reply");
        assert_eq!(fast, slow);
        let reply = Message::decode(&reply).expect("decodes");
        assert_eq!(
            (&reply.heads, &reply.have),
            (&expected.heads, &expected.have)
        );
        phone
            .receive_sync_message(&mut at_phone, reply)
            .expect("applies");
        assert_eq!(phone.get_heads(), relay.get_heads(), "the phone caught up");
    }

    #[test]
    fn a_peer_with_news_or_unknown_heads_needs_the_document() {
        let (store, _relay, phone, at_relay, mut at_phone, _) = yesterday_and_overnight();
        let mut wrote = phone.fork();
        let mut at_wrote = at_phone.clone();
        put(&mut wrote, "from the phone", 9);
        let message = wrote
            .generate_sync_message(&mut at_wrote)
            .expect("a message");
        let mut state = at_relay.clone();
        assert_eq!(
            answer(&store, "d", &mut state, &message).expect("read"),
            None,
            "a phone that wrote since has heads the store never recorded"
        );
        assert_eq!(state, at_relay, "the state is left for the full path");

        let message = phone
            .generate_sync_message(&mut at_phone)
            .expect("a message");
        assert_eq!(
            answer(&store, "other", &mut state, &message).expect("read"),
            None,
            "heads recorded for another document"
        );
    }
}
