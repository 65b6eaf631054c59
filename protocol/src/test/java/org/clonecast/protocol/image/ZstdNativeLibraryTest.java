package org.clonecast.protocol.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * zstd-jni unpacks its native library on first use; where it cannot, the agent must be told why.
 */
class ZstdNativeLibraryTest {

  @Test
  void usableWithAWritableTemporaryDirectory() throws Exception {
    assertEquals("usable", probe(null));
  }

  @Test
  void anUnwritableUnpackDirectoryIsNamedWithTheFix() throws Exception {
    String out = probe("/proc"); // exists, and nobody may create files in it
    assertTrue(out.startsWith("cannot load the zstd native library"), out);
    assertTrue(out.contains("/proc") && out.contains("-DZstdTempFolder"), out);
  }

  private static String probe(String tempFolder) throws IOException, InterruptedException {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path")));
    if (tempFolder != null) cmd.add("-DZstdTempFolder=" + tempFolder);
    cmd.add(ZstdNativeProbe.class.getName());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "probe JVM did not exit");
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      assertEquals(0, p.exitValue(), out);
      return out;
    } finally {
      p.destroyForcibly();
    }
  }
}
