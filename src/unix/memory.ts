// Giving freed heap memory back to the operating system (glibc's malloc_trim), for a process that
// has just been busy: Node allocates large Buffers with malloc, and glibc keeps what they leave.
import { nativeUnix } from './native.js';

/** Returns the C heap's free pages to the OS; false when nothing was released or the addon is missing. */
export function releaseFreeHeapMemory(): boolean {
  return (nativeUnix()?.trimHeap() ?? 0) === 1;
}
