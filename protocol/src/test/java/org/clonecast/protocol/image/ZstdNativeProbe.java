package org.clonecast.protocol.image;

/**
 * Prints what {@link ChunkCodec#nativeLibraryProblem()} says, in a JVM of its own: the native
 * library loads once per JVM, so a failing load cannot be shown in the test's own.
 */
public final class ZstdNativeProbe {
  private ZstdNativeProbe() {}

  public static void main(String[] args) {
    System.out.println(ChunkCodec.nativeLibraryProblem().orElse("usable"));
  }
}
