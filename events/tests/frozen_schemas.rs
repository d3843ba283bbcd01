//! Published schemas are frozen. Every file at the top of `schemas/` (the envelope and one per
//! event type and version; the API documents in subfolders are not event shapes) is held here
//! by its SHA-256. Consumers (billing, analytics, the Kafka readers) validate what they read
//! against these files, so editing one in place silently changes the meaning of events already
//! in the log. A change to an event is a new `{type}.v{N+1}.json` beside the old one, a bump of
//! the version in `event_types!`, and an upcaster from the old version (`events/src/upcast.rs`).
//!
//! Adding a file means adding its hash below in the same change, so each version is frozen the
//! moment it lands.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every published schema and the SHA-256 of its bytes, as first published.
const FROZEN: &[(&str, &str)] = &[
    (
        "account.created.v1.json",
        "659177b65dd1600209b81a2f62c30126ef2bf6d09e6fb9b3f2d4b78da8613a9f",
    ),
    (
        "account.auth-token.promoted.v1.json",
        "78a25779226493f0c1ccb3cec5e720cf9df9873c6da2113a3c620fd8132a9806",
    ),
    (
        "account.created.v2.json",
        "69f538d76ada128264e5840992b5ff2b6d0a1601db7afb09ded0749ddcc50057",
    ),
    (
        "account.secondary-auth-token.created.v1.json",
        "556ec0e5a345d71a3d891b68098e7fad9026362d06203dfd8474d7ec25986967",
    ),
    (
        "account.secondary-auth-token.deleted.v1.json",
        "3440a362a1e6430e74a771d2d21fb6c1ec2d852fa5f0e4249d15e108266ccc0f",
    ),
    (
        "account.updated.v1.json",
        "ec33d8024267a111102c4b493ebe2ba6ee83c2b52a0d99260d9379292de6eb61",
    ),
    (
        "activity.created.v1.json",
        "9ec62539e2f87c2943d4b136eba6eb0ba214d0849a90840776311ff724fbe35d",
    ),
    (
        "activity.deleted.v1.json",
        "2a75e7f67696fec1a656c5ac2844cc492c2969489135fbeb286191a43ec8dcd3",
    ),
    (
        "activity.updated.v1.json",
        "3f6cd43289d1e328a49385c160ca3226c1d9c1f3293c143a16313a0087ddcd56",
    ),
    (
        "alert.raised.v1.json",
        "a1512566064d31822778db1f3616795c742121d29ee413ead4963a0ad7ec7925",
    ),
    (
        "call.routed.v1.json",
        "7e31822d23de613c94a9b6ea9ba7c34000e270539eb900f7db65a5734e0c6a77",
    ),
    (
        "call.routed.v2.json",
        "8745e4892b38d95e57d974c011904b6b831a80cf1229ef4d9fb98bf470892282",
    ),
    (
        "call.deleted.v1.json",
        "b3c910afc9d0dbd9b55bbe1e619d9fe845cd8e61b5cf72b7337db83d5a2ac3a3",
    ),
    (
        "call.dialog.recorded.v1.json",
        "6dbbc0bc7a626caea40b683f069cb0a9cb860125f772be6361a34ff64085ed6a",
    ),
    (
        "call.instructions.fetched.v1.json",
        "8d764fdea6f58dec3b12be7509e71f15dc97f07391ffcdda28fce5efd97ee0af",
    ),
    (
        "call.notification.raised.v1.json",
        "0d189521a8d28f7337780f2120de25d5a48070a9c3b0b88df22dea3c20d544ea",
    ),
    (
        "call.answered.v1.json",
        "aee06078fe620aeb626e94a05043610b0d748a9505ac08b93ac13c9b21b8c698",
    ),
    (
        "call.completed.v1.json",
        "5f2fb0c0806b3fedebde1b693bba78cab19770605d4f74daae9cfa28c8ddb205",
    ),
    (
        "call.initiated.v1.json",
        "a357570d238309a37c53bf50bc0c57a8ba6a4dd666e1f8f188aef6ff818b2cc3",
    ),
    (
        "call.ringing.v1.json",
        "6b9bdbaa9f3284930fb9c41b938e2aea0d291e564463c45e1b4e521710d4d8b2",
    ),
    (
        "dtmf.received.v1.json",
        "a112bbbcb3a677f06d55bf489544c566e4fe3db02f68b881997ea4a38c8f8752",
    ),
    (
        "envelope.json",
        "5a7a04e3939fe5782b4175d0e72ddccf26ce2f65b2da4cece4976497a146e4e0",
    ),
    (
        "media.played.v1.json",
        "39da42077326866717113933263c2d135157a5879862adf4688aa83df7d19b1f",
    ),
    (
        "reservation.accepted.v1.json",
        "cf7a0da36d7b01dd88ffefa15ebf738ff1cc73b2fced4ec4f8bf8a3d2e717dcc",
    ),
    (
        "reservation.canceled.v1.json",
        "dfbfa01ca8dd446a7bc22a8d938bed7a65cb599e537a8f4ba9d7a81bc6bcfb32",
    ),
    (
        "reservation.completed.v1.json",
        "3281e40bd5860c8fac5a45c240225e933cc698df967b24833c5104a0514a41a4",
    ),
    (
        "reservation.created.v1.json",
        "83f276669245be6106eba43c6fe4c67de1bc0ea5882939a325460a658eb9dd4f",
    ),
    (
        "reservation.rejected.v1.json",
        "a2913584876b40c5c9f8ff167fff0480ee6a11431ec4c3a6c3f3e1be188a2105",
    ),
    (
        "reservation.rescinded.v1.json",
        "5a0a72b5c6bf83966d8c0069b8e6cdd25503c3520495f01bce1dc55d6eb3de42",
    ),
    (
        "reservation.timeout.v1.json",
        "ea700236afbe2b9a9dba6ba52f44c257dc1c5c81631a2383273709a1b4c698ea",
    ),
    (
        "reservation.wrapup.v1.json",
        "f0e7af9fe2870fb120ba8092d47c46196c89ac38c09ff9b7e5fa661a653c51cb",
    ),
    (
        "task-channel.created.v1.json",
        "ed9973705977a67b6090e8aa0c6702937fa489ae2172a0d8136b0ad9e7649b60",
    ),
    (
        "task-channel.deleted.v1.json",
        "f27f22225264380f95d319ba8acbbe0aba5b3fef79fce675c510c1d78d33bd97",
    ),
    (
        "task-channel.updated.v1.json",
        "cc3f4f6c296f683e5899444505dd1b60ab09dcf042b10b427375091ebf606e07",
    ),
    (
        "task-queue.created.v1.json",
        "09eca70455e3077cf2e0696168a969ae69fad7f06a23e78a59c67d6d0c7e394c",
    ),
    (
        "task-queue.deleted.v1.json",
        "ec996e4584b72b5e60e4c31c1e282e50e3fabcacd039f59fc7a31aed9228ebca",
    ),
    (
        "task-queue.entered.v1.json",
        "a1d82f608936e80eac0de5e36e989bbe0e6ddba763f211e3b07856a256251149",
    ),
    (
        "task-queue.expression.updated.v1.json",
        "22abc32ea05892facccbd61b5ba437c822aa63470afcd44d633fa3a8d7bc001e",
    ),
    (
        "task-queue.moved.v1.json",
        "43f1812ac14d093cd9a8f2d58260b39a476d588d25400ef5563d23504853dc58",
    ),
    (
        "task-queue.timeout.v1.json",
        "5deb4caec743003eb9a8fc1235cc16ab365a75f0d75da9981d23e057b8c1c10d",
    ),
    (
        "task-queue.updated.v1.json",
        "772f170606cb9f2607718e2e15992feaa594c152c4694fb43e59bba7ff13b2cf",
    ),
    (
        "task.canceled.v1.json",
        "0f04be4d3546d10d1be1923189ae0f6feb9d605c681fce37fb1f831f54623706",
    ),
    (
        "task.completed.v1.json",
        "f61c118a070f42769088f0d3979fd700d2fde6c716ce0d5af75aba4896dea09a",
    ),
    (
        "task.created.v1.json",
        "a17459b47e73de4d3dae1c3c5068ba39dd9e7f23b7e426ac8ad768afa0c71b7b",
    ),
    (
        "task.deleted.v1.json",
        "a010948885121d36478f660b7a948882703bb23676256ccd084320ae4103db53",
    ),
    (
        "task.system-deleted.v1.json",
        "62e916eafc51f27248404547a50a215d0d0fb0742b644cb2b81b67601336571d",
    ),
    (
        "task.updated.v1.json",
        "dbe88e1f6b47439e2123af24d93f9babc17de189fd5e042991ba0f201d2d0059",
    ),
    (
        "task.wrapup.v1.json",
        "34bf63fa00a279e098d994848f94c4ea8bace73be5d6949864702ec0e4c680b0",
    ),
    (
        "worker.activity.update.v1.json",
        "8a1f4a4879b6c0ad481fffca73edf5cf80a91bb0e08e91dc3236b6779085ef68",
    ),
    (
        "worker.attributes.update.v1.json",
        "a276ef1eaaee43a65270b2fe8c35f84eb1ee630b5d0738f0d4eed9361725df4e",
    ),
    (
        "worker.capacity.update.v1.json",
        "f1b4888dd39ace08bb7a3d7a87d3848a27a0e5936234c26ac316944327c1e6e7",
    ),
    (
        "worker.capacity.update.v2.json",
        "8be5921031495ad29e92b77f5454629137b066cf4a9b55c3b3910dcf9b4992cc",
    ),
    (
        "worker.channel.availability.update.v1.json",
        "d3896335aa9404bf31ca489dad3f8dbbf4334bba0a5f97e8f0ef6267c58fb5a2",
    ),
    (
        "worker.created.v1.json",
        "02e0213aa4e58bbda1639a1311eeb71d7b7f911174df6fd9165bf84c17e96a78",
    ),
    (
        "worker.deleted.v1.json",
        "082cda31025649b5cde0901b81f8fb17cbec060156721bba6c78e357e858a122",
    ),
    (
        "worker.updated.v1.json",
        "16d60c2c14c95570bc41262a46761ca260be04fd455b2560e684248d3c5c9956",
    ),
    (
        "workflow.created.v1.json",
        "f39e7fae408ffe4f2da411a9c16aff302dab1d0bdeccaea52c5dd969a1db77f2",
    ),
    (
        "workflow.deleted.v1.json",
        "bdde0c0e00572b1fecb0a74e663cad803ced0e8ce67778352fd770cd2b40d2bb",
    ),
    (
        "workflow.entered.v1.json",
        "f26305c854295070c4f5274d84517339d573de91031658c6c8799b704dbcfe5f",
    ),
    (
        "workflow.skipped.v1.json",
        "2e7c9c63f54f977f49cb1846c6a41e7fc02ae80ab045439453f8a16d7cb5f88a",
    ),
    (
        "workflow.target-matched.v1.json",
        "bba8fe4090bdac312edf1760c5fb998f6e45f47e6949dfa5e6a661bb842e4b78",
    ),
    (
        "workflow.timeout.v1.json",
        "0cde4d6297f9f47865ad7b3487de274f84a4ebab923916a4ad3b122f668b677e",
    ),
    (
        "workflow.updated.v1.json",
        "86cda53f6154415fafee405e8a8a82b7ee6e4a6617f4b1a9f27eeebd7879180e",
    ),
    (
        "workspace.created.v1.json",
        "cf0ad46195af4698fd317d69a6e31e630cd72b0d88157888b733787d4c1732df",
    ),
    (
        "workspace.deleted.v1.json",
        "f482a031e8272d895ab6fe102cf9c0272f1863609b1808b04a28e8335decb862",
    ),
    (
        "workspace.updated.v1.json",
        "f8d4453c0b88d9b94c301021e02ca576ebebdbe376bd97f41b61fa65d60ae44f",
    ),
    (
        "incoming-phone-number.created.v1.json",
        "bfa319042afd13216e345ecec086b14cb59f3b514ec6847d0ea1b148f73f88ff",
    ),
    (
        "incoming-phone-number.updated.v1.json",
        "8eaaa23b26a7dbdcae7048e22d9f938608c2d8ed0affedb31bc832c29fb0ddbf",
    ),
    (
        "incoming-phone-number.deleted.v1.json",
        "fc5cf04ba50f859d7e44119594d62ca72d4feee8187af7ef109fccc5f53f5901",
    ),
    (
        "phone-number.claimed.v1.json",
        "82eb4feb70b814bc714d37d8dd063f224273f61663cc6c67986d4c4f377982e0",
    ),
    (
        "phone-number.released.v1.json",
        "b1a2e74b929400bfd67c9bbe5f6cf8a54466da3f949caadd5358060441fdd998",
    ),
    (
        "application.created.v1.json",
        "1f80a78a77ad4948ddae72b29b2b46776a042117e1ec31d6f242b6739702b21c",
    ),
    (
        "application.updated.v1.json",
        "fecb1479471edf0331bc545c2cd9bd746d9611b7aa4433264d9667beccf8a935",
    ),
    (
        "application.deleted.v1.json",
        "162105961bbb637fa5a4ba1bf8aad86073229c4f50074aa31f176a7767072d31",
    ),
];

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every `.json` file at the top of `schemas/` with the SHA-256 of its bytes.
fn on_disk() -> BTreeMap<String, String> {
    std::fs::read_dir(schemas_dir())
        .expect("schemas/ exists")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .map(|n| {
            let bytes = std::fs::read(schemas_dir().join(&n)).expect("readable");
            let digest = hex(&Sha256::digest(&bytes));
            (n, digest)
        })
        .collect()
}

/// What is wrong between the files and the table, one line per file.
fn differences(frozen: &[(&str, &str)], on_disk: &BTreeMap<String, String>) -> Vec<String> {
    let table: BTreeMap<&str, &str> = frozen.iter().copied().collect();
    let mut wrong = Vec::new();
    for (name, digest) in on_disk {
        match table.get(name.as_str()) {
            None => wrong.push(format!(
                "{name} is new: freeze it by adding (\"{name}\", \"{digest}\") to FROZEN in \
                 events/tests/frozen_schemas.rs"
            )),
            Some(held) if *held != digest => wrong.push(format!(
                "{name} changed (sha256 {digest}, published as {held}): a published schema never \
                 changes. Restore it, publish a new schema_version file ({{type}}.v{{N+1}}.json) \
                 and an upcaster from v{{N}} in events/src/upcast.rs instead"
            )),
            Some(_) => {}
        }
    }
    for name in table.keys() {
        if !on_disk.contains_key(*name) {
            wrong.push(format!(
                "{name} was published and is gone: events in the log still follow it; restore it"
            ));
        }
    }
    wrong
}

#[test]
fn every_published_schema_is_byte_for_byte_what_was_published() {
    let wrong = differences(FROZEN, &on_disk());
    assert!(wrong.is_empty(), "frozen schemas:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_catches_an_edited_a_new_and_a_removed_file() {
    let mut disk = on_disk();
    let name = "workflow.timeout.v1.json".to_string();
    assert!(
        disk.contains_key(&name),
        "workflow.timeout.v1.json is frozen too"
    );
    disk.insert(name.clone(), "00".repeat(32));
    disk.insert("task.created.v9.json".into(), "11".repeat(32));
    disk.remove("envelope.json");
    let wrong = differences(FROZEN, &disk);
    assert_eq!(wrong.len(), 3, "{wrong:#?}");
    assert!(wrong
        .iter()
        .any(|w| w.starts_with("workflow.timeout.v1.json changed")
            && w.contains("publish a new schema_version file")
            && w.contains("upcaster")));
    assert!(wrong
        .iter()
        .any(|w| w.starts_with("task.created.v9.json is new")));
    assert!(wrong
        .iter()
        .any(|w| w.starts_with("envelope.json was published and is gone")));
}
