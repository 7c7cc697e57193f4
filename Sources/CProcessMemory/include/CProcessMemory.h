#ifndef SWITCHBOARD_PROCESS_MEMORY_H
#define SWITCHBOARD_PROCESS_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/// The whole pages inside the executable's table of relative relocations
/// (`.rela.dyn`, `DT_RELA`), as [first, last); returns their length, 0 (and
/// both 0) when the table is absent, smaller than a page, or not wholly inside
/// a read-only loaded segment.
size_t switchboard_relocation_table_pages(uintptr_t *_Nonnull first, uintptr_t *_Nonnull last);

/// Drops from memory the executable's table of relative relocations
/// (`.rela.dyn`, `DT_RELA`): the dynamic loader reads it once, to fix up the
/// addresses in a position-independent binary, and nothing reads it again.
/// Its pages are clean and backed by the file, so should anything touch them
/// later they come back from the page cache. Returns the bytes released (the
/// pages of `switchboard_relocation_table_pages`), or 0.
size_t switchboard_release_relocation_table(void);

/// Returns the allocator's free pages to the system (glibc's `malloc_trim`):
/// glibc keeps free pages in the middle of its heaps until asked. Returns 1
/// when memory was released.
int switchboard_trim_heap(void);

/// The bytes the allocator holds free in its heaps (glibc's `mallinfo2`,
/// `fordblks`), resident or already given back; 0 without glibc.
size_t switchboard_heap_free_bytes(void);

#endif
