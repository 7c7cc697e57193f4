#define _GNU_SOURCE
#include "CProcessMemory.h"

#include <link.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/// dl_iterate_phdr reports the executable first; stop there.
static int first_object(struct dl_phdr_info *info, size_t size, void *out) {
    (void)size;
    *(struct dl_phdr_info *)out = *info;
    return 1;
}

size_t switchboard_relocation_table_pages(uintptr_t *first, uintptr_t *last) {
    *first = *last = 0;
    struct dl_phdr_info executable = {0};
    if (dl_iterate_phdr(first_object, &executable) == 0 || executable.dlpi_phdr == NULL) return 0;
    const uintptr_t bias = executable.dlpi_addr;
    uintptr_t table = 0, size = 0;
    for (size_t i = 0; i < executable.dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &executable.dlpi_phdr[i];
        if (header->p_type != PT_DYNAMIC) continue;
        for (const ElfW(Dyn) *entry = (const ElfW(Dyn) *)(bias + header->p_vaddr); entry->d_tag != DT_NULL; entry++) {
            if (entry->d_tag == DT_RELA) table = entry->d_un.d_ptr;
            if (entry->d_tag == DT_RELASZ) size = entry->d_un.d_val;
        }
    }
    if (table == 0 || size == 0) return 0;
    // glibc adds the load bias to the executable's own DT_RELA in place; other loaders leave the link-time address.
    if (table < bias) table += bias;
    // Only a table wholly inside a read-only loaded segment: its pages then hold nothing written since.
    int readOnly = 0;
    for (size_t i = 0; i < executable.dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &executable.dlpi_phdr[i];
        const uintptr_t start = bias + header->p_vaddr;
        if (header->p_type == PT_LOAD && !(header->p_flags & PF_W) && table >= start && size <= header->p_filesz &&
            table - start <= header->p_filesz - size)
            readOnly = 1;
    }
    if (!readOnly) return 0;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    *first = (table + page - 1) / page * page;
    *last = (table + size) / page * page;
    if (*last <= *first) *first = *last = 0;
    return *last - *first;
}

size_t switchboard_release_relocation_table(void) {
    uintptr_t first, last;
    if (switchboard_relocation_table_pages(&first, &last) == 0) return 0;
    if (madvise((void *)first, last - first, MADV_DONTNEED) != 0) return 0;
    return last - first;
}

int switchboard_trim_heap(void) {
#ifdef __GLIBC__
    return malloc_trim(0);
#else
    return 0;
#endif
}

size_t switchboard_heap_free_bytes(void) {
#ifdef __GLIBC__
    return mallinfo2().fordblks;
#else
    return 0;
#endif
}
