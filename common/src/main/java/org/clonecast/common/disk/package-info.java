/**
 * Which bytes of a disk an image carries, decided on a real disk: {@link
 * org.clonecast.common.disk.DiskAllocation} reads the partition table and each partition's first
 * bytes (parsed by {@code org.clonecast.protocol.disk}), checks that no filesystem is mounted
 * read-write or unclean, runs partclone's domain map on a read-only view of each filesystem, and
 * returns a {@link org.clonecast.common.disk.DiskPlan}: the {@code AllocationMap} plus what it
 * decided for every partition and why. See {@code docs/capture.md}.
 */
package org.clonecast.common.disk;
