//! [`ColumnBuffer`]: the zeroed buffers a decoded column is written into (the
//! `u64` [`Slots`] numbers and booleans are parsed into, a text column's
//! offsets and bytes), which then become the arrow array's buffers without
//! a copy.
//!
//! Writing fresh memory costs more in the kernel than in the parser: every
//! 4 KiB page is mapped on its first write, a fault apiece (on this project's
//! 2-core machines, 64 MB written into a fresh `Vec` took 29 ms, of which
//! the writes themselves are a few). So buffers of [`MAPPED_BYTES`] or more
//! are mapped from the kernel directly, aligned to 2 MiB, and on Linux
//! marked for transparent huge pages, which the kernel then maps 2 MiB at a
//! time (the same 64 MB: 7 ms). Where huge pages are off or the mapping
//! fails, the buffer is ordinary memory and everything works the same.
//!
//! This module knows nothing about CSV; it only hands out zeroed memory.

use std::ops::{Deref, DerefMut};

use arrow_buffer::{ArrowNativeType, Buffer, ScalarBuffer};
use bytemuck::Pod;

/// Buffers at least this large are mapped directly (see the module docs);
/// smaller ones come from the allocator, which reuses freed memory.
const MAPPED_BYTES: usize = 1 << 20;

/// The size and alignment of a huge page on x86-64 and aarch64 (4 KiB base
/// pages); a mapping is aligned to it so that all its huge pages fit.
const HUGE_PAGE: usize = 2 << 20;

/// The `u64` slots of a numeric or boolean column.
pub(super) type Slots = ColumnBuffer<u64>;

/// A zeroed buffer of `len` values of `T` (slots, text offsets, text bytes).
#[derive(Debug)]
pub(super) struct ColumnBuffer<T> {
    storage: Storage<T>,
}

#[derive(Debug)]
enum Storage<T> {
    Heap(Vec<T>),
    /// `len` values at byte `offset` of `map` (where the first huge page
    /// starts).
    Mapped {
        map: memmap2::MmapMut,
        offset: usize,
        len: usize,
    },
}

impl<T: Pod + ArrowNativeType> ColumnBuffer<T> {
    /// `len` values, all zero.
    pub(super) fn zeroed(len: usize) -> ColumnBuffer<T> {
        let bytes = len.saturating_mul(size_of::<T>());
        if bytes >= MAPPED_BYTES
            && let Some(storage) = mapped(len)
        {
            return ColumnBuffer { storage };
        }
        ColumnBuffer {
            storage: Storage::Heap(vec![T::zeroed(); len]),
        }
    }

    /// Grows to `len` values, the new ones zero (never shrinks).
    pub(super) fn grow(&mut self, len: usize) {
        if len <= self.len() {
            return;
        }
        match &mut self.storage {
            Storage::Heap(values) if len.saturating_mul(size_of::<T>()) < MAPPED_BYTES => {
                values.resize(len, T::zeroed());
            }
            _ => {
                let mut grown = ColumnBuffer::zeroed(len);
                grown[..self.len()].copy_from_slice(self);
                *self = grown;
            }
        }
    }

    /// The first `n` values as an arrow buffer, without copying.
    pub(super) fn into_buffer(self, n: usize) -> ScalarBuffer<T> {
        let n = n.min(self.len());
        match self.storage {
            Storage::Heap(mut values) => {
                values.truncate(n);
                values.into()
            }
            Storage::Mapped { map, offset, .. } => {
                let bytes =
                    bytes::Bytes::from_owner(map).slice(offset..offset + n * size_of::<T>());
                ScalarBuffer::new(Buffer::from(bytes), 0, n)
            }
        }
    }
}

/// A mapping with room for `len` values from a huge-page boundary, or
/// `None` when the kernel refuses it.
fn mapped<T>(len: usize) -> Option<Storage<T>> {
    let bytes = len.checked_mul(size_of::<T>())?;
    let huge = huge_pages_for(bytes);
    let map = memmap2::MmapMut::map_anon(bytes.max(huge).checked_add(HUGE_PAGE)?).ok()?;
    let start = map.as_ptr() as usize;
    let offset = start.next_multiple_of(HUGE_PAGE) - start;
    #[cfg(target_os = "linux")]
    {
        // Only a hint: without it (huge pages off, an old kernel) the
        // mapping is ordinary memory.
        let _ = map.advise_range(memmap2::Advice::HugePage, offset, huge);
    }
    // Anonymous mappings are zeroed by the kernel; touch nothing here.
    Some(Storage::Mapped { map, offset, len })
}

/// The bytes from the start of a buffer of `bytes` that are advised for
/// huge pages: a whole number of them. The kernel gives a huge page only
/// where the advice covers all of it, and 4 KiB pages elsewhere, so a last
/// part-filled one is included unless it is a small part (writing 1.6 MB
/// of a million rows' slots past their last whole huge page took 417
/// faults; a sliver past it is cheaper in small pages than zeroing 2 MiB).
fn huge_pages_for(bytes: usize) -> usize {
    let whole = bytes - bytes % HUGE_PAGE;
    if bytes % HUGE_PAGE >= HUGE_PAGE / 8 {
        whole + HUGE_PAGE
    } else {
        whole
    }
}

impl<T: Pod> Deref for ColumnBuffer<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.storage {
            Storage::Heap(values) => values,
            Storage::Mapped { map, offset, len } => {
                bytemuck::cast_slice(&map[*offset..*offset + *len * size_of::<T>()])
            }
        }
    }
}

impl<T: Pod> DerefMut for ColumnBuffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.storage {
            Storage::Heap(values) => values,
            Storage::Mapped { map, offset, len } => {
                bytemuck::cast_slice_mut(&mut map[*offset..*offset + *len * size_of::<T>()])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_slots_are_zeroed_grow_and_become_buffers() {
        let mapped_len = MAPPED_BYTES / 8 + 3;
        for len in [0, 1, 1000, mapped_len] {
            let mut slots = Slots::zeroed(len);
            assert_eq!(slots.len(), len);
            assert!(slots.iter().all(|&slot| slot == 0), "zeroed at {len}");
            for (index, slot) in slots.iter_mut().enumerate() {
                *slot = index as u64 * 3;
            }
            // Growing keeps what was written and zeroes the rest, across
            // the heap-to-mapped boundary too.
            slots.grow(len + mapped_len);
            assert_eq!(slots.len(), len + mapped_len);
            assert!((0..len).all(|index| slots[index] == index as u64 * 3));
            assert!(slots[len..].iter().all(|&slot| slot == 0));
            let buffer = slots.into_buffer(len.saturating_sub(1));
            let expected: Vec<u64> = (0..buffer.len() as u64).map(|index| index * 3).collect();
            assert_eq!(&buffer[..], &expected[..], "buffer of {len}");
        }
    }

    #[test]
    fn huge_page_advice_covers_whole_pages_and_all_but_a_sliver() {
        for bytes in [
            MAPPED_BYTES,
            HUGE_PAGE,
            HUGE_PAGE + 1,
            HUGE_PAGE + HUGE_PAGE / 8 - 1,
            HUGE_PAGE + HUGE_PAGE / 8,
            8_000_000,
            4_000_004,
        ] {
            let advised = huge_pages_for(bytes);
            assert_eq!(advised % HUGE_PAGE, 0, "{bytes}");
            assert!(advised + HUGE_PAGE / 8 > bytes, "{bytes}: {advised}");
            assert!(advised < bytes + HUGE_PAGE, "{bytes}: {advised}");
        }
        // A million rows' slots end 1.6 MB into their fourth huge page.
        assert_eq!(huge_pages_for(8_000_000), 4 * HUGE_PAGE);
        // One past two huge pages: the sliver stays in small pages.
        assert_eq!(huge_pages_for(2 * HUGE_PAGE + 4), 2 * HUGE_PAGE);
        // A buffer advised past its end still holds only its own values.
        let mut slots = Slots::zeroed(1_000_000);
        slots[999_999] = 7;
        let buffer = slots.into_buffer(1_000_000);
        assert_eq!((buffer.len(), buffer[999_999]), (1_000_000, 7));
    }

    #[test]
    fn a_mapped_buffer_starts_on_a_huge_page_boundary() {
        let slots = Slots::zeroed(MAPPED_BYTES / 8);
        assert!(matches!(slots.storage, Storage::Mapped { .. }));
        assert_eq!(slots.as_ptr() as usize % HUGE_PAGE, 0);
        let buffer = slots.into_buffer(10);
        assert_eq!(buffer.len(), 10);
        assert_eq!(buffer.inner().as_ptr() as usize % HUGE_PAGE, 0);
        // Bytes and offsets too, which may end anywhere.
        let mut text = ColumnBuffer::<u8>::zeroed(MAPPED_BYTES + 5);
        assert!(matches!(text.storage, Storage::Mapped { .. }));
        text[MAPPED_BYTES + 4] = b'x';
        text[0] = b'a';
        let buffer = text.into_buffer(MAPPED_BYTES + 5);
        assert_eq!((buffer[0], buffer[MAPPED_BYTES + 4]), (b'a', b'x'));
        let offsets = ColumnBuffer::<i32>::zeroed(MAPPED_BYTES / 4 + 1);
        assert!(matches!(offsets.storage, Storage::Mapped { .. }));
        assert_eq!(offsets.into_buffer(3).len(), 3);
    }
}
