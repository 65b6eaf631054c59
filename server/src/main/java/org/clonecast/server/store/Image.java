package org.clonecast.server.store;

import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * An image in the server's store.
 *
 * @param name what sessions call it
 * @param file its manifest file ({@code .ccm}, chunks in the store's pool) or, for an image of an
 *     earlier build not yet moved into the pool, its {@code .cci}
 * @param state adding, capturing, ready or failed; only a ready image can be sent
 * @param detail why it failed, if it did
 * @param imageId manifest UUID (empty while adding)
 * @param logicalSize bytes a node's disk receives
 * @param storedSize bytes of the stored chunks it references (of the .cci, for a .cci)
 * @param ownSize of those, the bytes no other image references: what removing it frees; the rest it
 *     shares
 * @param chunks chunk count
 * @param imageHash SHA-256 of the logical image, hex
 * @param createdMillis epoch ms
 */
public record Image(
    String name,
    Path file,
    String state,
    Optional<String> detail,
    Optional<String> imageId,
    long logicalSize,
    long storedSize,
    long ownSize,
    int chunks,
    Optional<String> imageHash,
    long createdMillis) {
  public Image {
    Objects.requireNonNull(name);
    Objects.requireNonNull(file);
    Objects.requireNonNull(state);
    Objects.requireNonNull(detail);
    Objects.requireNonNull(imageId);
    Objects.requireNonNull(imageHash);
  }

  public boolean ready() {
    return state.equals("ready");
  }

  /** Bytes of its stored chunks that other images reference too. */
  public long sharedSize() {
    return storedSize - ownSize;
  }
}
