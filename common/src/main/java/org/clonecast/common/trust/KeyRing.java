package org.clonecast.common.trust;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clonecast.protocol.image.Manifest;
import org.clonecast.protocol.image.ManifestSignature;

/**
 * The daemon's image keys as they are in its state directory now: the current key, and the previous
 * one during a rotation's overlap. {@code clonecast key rotate} changes the files while the daemon
 * runs; the ring reads them again when they change (by modification time), so the next image stored
 * and the next session are signed with the new key without a restart.
 *
 * <p>Thread-safe.
 */
public final class KeyRing {
  private final Path stateDir;
  private ImageKey current;
  private Optional<ImageKey> previous = Optional.empty();
  private long stamp = Long.MIN_VALUE;

  /** The ring of {@code stateDir}, making a key there if there is none. */
  public KeyRing(Path stateDir) throws IOException {
    this.stateDir = stateDir;
    ImageKey.loadOrCreate(stateDir);
    reload();
  }

  /** The key that signs what is stored now. */
  public synchronized ImageKey current() throws IOException {
    reload();
    return current;
  }

  /** The key before the last rotation, while it is kept. */
  public synchronized Optional<ImageKey> previous() throws IOException {
    reload();
    return previous;
  }

  /**
   * What a session hands its receivers: {@code stored}, the signature the {@code .cci} carries,
   * when it is the current key's, else a new one by it; then one by the previous key, if kept, so
   * that nodes booted before a rotation (which trust only that key) still take the image.
   */
  public synchronized List<ManifestSignature> signatures(
      Manifest m, Optional<ManifestSignature> stored) throws IOException {
    reload();
    List<ManifestSignature> out = new ArrayList<>();
    boolean storedIsCurrent =
        stored.isPresent() && stored.get().problem(m, current.publicKey()).isEmpty();
    out.add(storedIsCurrent ? stored.get() : current.sign(m));
    previous.ifPresent(p -> out.add(p.sign(m)));
    return out;
  }

  private void reload() throws IOException {
    long now = stamp(ImageKey.PRIVATE_FILE) * 31 + stamp(ImageKey.PREVIOUS_FILE);
    if (now == stamp && current != null) return;
    current = ImageKey.load(stateDir);
    previous = ImageKey.loadPrevious(stateDir);
    stamp = now;
  }

  private long stamp(String name) throws IOException {
    Path p = stateDir.resolve(name);
    if (!Files.exists(p)) return 0;
    // A rotation renames new files into place: another inode, whatever the clock says.
    Object inode = Files.readAttributes(p, BasicFileAttributes.class).fileKey();
    return Files.getLastModifiedTime(p).toMillis() * 31 + (inode == null ? 0 : inode.hashCode());
  }
}
