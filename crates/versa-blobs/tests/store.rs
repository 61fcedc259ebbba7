//! Drives the blob store against real directories: round trips, idempotence,
//! corruption and crash leftovers, concurrent writers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use versa_blobs::{BlobError, BlobStore};
use versa_core::Digest;

fn blob_file(root: &Path, digest: &Digest) -> PathBuf {
    let hex = digest.to_hex();
    root.join(&hex[..2]).join(&hex[2..])
}

/// Every file below `root`, as paths relative to it.
fn files_below(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn put_then_get_round_trips_at_the_documented_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("blobs");
    let store = BlobStore::open_local(&root).unwrap();
    let bytes = Bytes::from_static(b"a,b\n1,2\n");
    let digest = store.put(bytes.clone()).await.unwrap();
    assert_eq!(digest, Digest::of(&bytes));
    assert_eq!(store.get(&digest).await.unwrap(), bytes);
    assert!(store.contains(&digest).await.unwrap());
    assert_eq!(std::fs::read(blob_file(&root, &digest)).unwrap(), bytes);
    assert_eq!(store.list().await.unwrap(), vec![digest]);
}

#[tokio::test]
async fn putting_existing_content_does_not_rewrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let bytes = Bytes::from_static(b"weights");
    let digest = store.put(bytes.clone()).await.unwrap();
    let file = blob_file(dir.path(), &digest);
    let before = std::fs::metadata(&file).unwrap();

    assert_eq!(store.put(bytes).await.unwrap(), digest);

    let after = std::fs::metadata(&file).unwrap();
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(before.ino(), after.ino(), "blob file was replaced");
    }
    assert_eq!(files_below(dir.path()).len(), 1);
}

#[tokio::test]
async fn flipped_byte_on_disk_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let digest = store
        .put(Bytes::from_static(b"precious data"))
        .await
        .unwrap();
    let file = blob_file(dir.path(), &digest);
    let mut on_disk = std::fs::read(&file).unwrap();
    on_disk[3] ^= 0x01;
    std::fs::write(&file, &on_disk).unwrap();

    let err = store.get(&digest).await.unwrap_err();
    match &err {
        BlobError::Corrupt {
            digest: d,
            actual,
            location,
        } => {
            assert_eq!(*d, digest);
            assert_eq!(*actual, Digest::of(&on_disk));
            assert!(location.ends_with(&digest.to_hex()[2..]), "{location}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&digest.to_string()), "{message}");
    assert!(message.contains("corrupt"), "{message}");
}

#[tokio::test]
async fn missing_blob_is_not_found_with_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let digest = Digest::of(b"never stored");
    assert!(!store.contains(&digest).await.unwrap());
    let err = store.get(&digest).await.unwrap_err();
    assert!(
        matches!(err, BlobError::NotFound { digest: d, .. } if d == digest),
        "{err:?}"
    );
    assert!(err.to_string().contains(&digest.to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_of_one_blob_leave_exactly_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(BlobStore::open_local(dir.path()).unwrap());
    let bytes = Bytes::from(vec![7u8; 256 * 1024]);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = Arc::clone(&store);
        let bytes = bytes.clone();
        tasks.push(tokio::spawn(async move { store.put(bytes).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), Digest::of(&bytes));
    }
    let digest = Digest::of(&bytes);
    let hex = digest.to_hex();
    assert_eq!(
        files_below(dir.path()),
        vec![format!("{}/{}", &hex[..2], &hex[2..])],
        "staging files left behind"
    );
    assert_eq!(store.get(&digest).await.unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_of_many_blobs_leave_only_final_names() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(BlobStore::open_local(dir.path()).unwrap());
    let mut tasks = Vec::new();
    // Each payload is written by two tasks at once, so writers race on every name.
    for i in 0..40u32 {
        let store = Arc::clone(&store);
        let bytes = Bytes::from(format!("payload {}", i / 2).repeat(1000));
        tasks.push(tokio::spawn(async move { store.put(bytes).await }));
    }
    let mut digests = Vec::new();
    for task in tasks {
        digests.push(task.await.unwrap().unwrap());
    }
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), 20);
    let expected: Vec<String> = digests
        .iter()
        .map(|d| {
            let hex = d.to_hex();
            format!("{}/{}", &hex[..2], &hex[2..])
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(files_below(dir.path()), expected);
    assert_eq!(store.list().await.unwrap(), digests);
}

#[tokio::test]
async fn staging_file_left_by_a_crash_is_invisible_and_does_not_block_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let bytes = Bytes::from_static(b"the full content of a blob");
    let digest = Digest::of(&bytes);
    // What a writer killed mid-write leaves: a partial staging file next to the final name.
    let final_path = blob_file(dir.path(), &digest);
    std::fs::create_dir_all(final_path.parent().unwrap()).unwrap();
    let mut staging = final_path.clone().into_os_string();
    staging.push("#1");
    std::fs::write(&staging, &bytes[..5]).unwrap();

    assert!(!store.contains(&digest).await.unwrap());
    assert!(matches!(
        store.get(&digest).await,
        Err(BlobError::NotFound { .. })
    ));
    assert!(store.list().await.unwrap().is_empty());

    assert_eq!(store.put(bytes.clone()).await.unwrap(), digest);
    assert_eq!(store.get(&digest).await.unwrap(), bytes);
}

#[tokio::test]
async fn json_round_trip_and_decode_error_names_the_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open_local(dir.path()).unwrap();
    let value: BTreeMap<String, u32> = [("a".to_string(), 1), ("b".to_string(), 2)].into();
    let digest = store.put_json(&value).await.unwrap();
    let back: BTreeMap<String, u32> = store.get_json(&digest).await.unwrap();
    assert_eq!(back, value);

    let not_json = store.put(Bytes::from_static(b"not json")).await.unwrap();
    let err = store
        .get_json::<BTreeMap<String, u32>>(&not_json)
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::DecodeJson { .. }), "{err:?}");
    assert!(err.to_string().contains(&not_json.to_string()), "{err}");
}

#[tokio::test]
async fn in_memory_backend_shares_the_code_path() {
    let store = BlobStore::from_object_store(
        Arc::new(object_store::memory::InMemory::new()),
        "memory://test",
    );
    let digest = store.put(Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(store.put(Bytes::from_static(b"x")).await.unwrap(), digest);
    assert_eq!(store.get(&digest).await.unwrap(), Bytes::from_static(b"x"));
    assert_eq!(store.list().await.unwrap(), vec![digest]);
    let missing = Digest::of(b"y");
    let err = store.get(&missing).await.unwrap_err();
    assert!(err.to_string().contains("memory://test/"), "{err}");
}

#[tokio::test]
async fn open_local_reports_unusable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = BlobStore::open_local(&file.join("blobs")).unwrap_err();
    assert!(matches!(err, BlobError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("a-file"), "{err}");
}
