#ifndef SWITCHBOARD_CONCURRENCY_HOOK_H
#define SWITCHBOARD_CONCURRENCY_HOOK_H

/// The address of Swift concurrency's global-enqueue hook
/// (`swift_task_enqueueGlobal_hook` in libswift_Concurrency), found by the
/// linker. NIO looks it up with `dlsym`, which finds nothing in a binary linked
/// with `--static-swift-stdlib` (the static standard library's symbols are not
/// exported), so the shipped binary silently ran every task on libdispatch.
void *_Nullable *_Nonnull switchboard_enqueue_global_hook(void);

#endif
