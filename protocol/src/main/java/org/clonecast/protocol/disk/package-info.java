/**
 * What is on a disk, from bytes the caller read: the partition table ({@link
 * org.clonecast.protocol.disk.PartitionTable}, GPT and MBR), the filesystem, swap or LVM signature
 * at a partition's start ({@link org.clonecast.protocol.disk.FilesystemProbe}) with its clean or
 * dirty state, and partclone's map of a filesystem's used blocks ({@link
 * org.clonecast.protocol.disk.DomainMap}). Filesystem-aware capture decides from these which bytes
 * an image carries ({@code common/disk} does the reading and runs partclone).
 *
 * <p>Pure: no files, processes, threads or clocks. The bytes come from a golden disk that may be
 * damaged or hostile, so every parser throws only {@link
 * org.clonecast.protocol.disk.MalformedDiskException}.
 */
package org.clonecast.protocol.disk;
