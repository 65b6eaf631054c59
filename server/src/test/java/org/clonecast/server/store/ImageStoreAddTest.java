package org.clonecast.server.store;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.clonecast.common.image.ImageCreator;
import org.clonecast.common.image.ProgressListener;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code image add} refuses a damaged .cci at once, naming the damage; --raw takes it as a disk.
 */
@ParameterizedClass
@EnumSource(TestStore.class)
class ImageStoreAddTest {
  @Parameter TestStore kind;

  @TempDir Path dir;
  Database db;
  ExecutorService worker;
  ImageStore images;

  @BeforeEach
  void setUp() throws Exception {
    db = kind.open(dir.resolve("state"));
    worker = Executors.newSingleThreadExecutor();
    Files.createDirectories(dir.resolve("state/images")); // as the daemon makes it
    images =
        new ImageStore(
            db,
            dir.resolve("state/images"),
            Clock.systemUTC(),
            new EventLog(db, Clock.systemUTC()),
            worker);
  }

  @AfterEach
  void tearDown() throws Exception {
    worker.shutdownNow();
    db.close();
  }

  @Test
  void aDamagedHeaderIsRefusedAndRawTakesItAsADisk() throws Exception {
    byte[] disk = new byte[512 * 1024];
    new Random(3).nextBytes(disk);
    Path raw = dir.resolve("disk.img");
    Files.write(raw, disk);
    Path cci = dir.resolve("disk.cci");
    ImageCreator.create(raw, cci, 65536, 3, 2, ProgressListener.NONE);
    try (RandomAccessFile f = new RandomAccessFile(cci.toFile(), "rw")) {
      f.write('X'); // "CLONECI1" becomes "XLONECI1"
    }
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> images.add("bad", cci));
    assertTrue(
        e.getMessage().contains("refusing to read it as a raw disk")
            && e.getMessage().contains("1 damaged byte(s)"),
        e.getMessage());
    assertTrue(images.find("bad").isEmpty(), "nothing is stored for a refused add");

    images.add("asked", cci, true, false);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> !images.find("asked").orElseThrow().state().equals("adding"));
    assertEquals(
        "ready",
        images.find("asked").orElseThrow().state(),
        "--raw: the file is captured as the disk it was said to be: "
            + images.find("asked").orElseThrow().detail());
    assertEquals(Files.size(cci), images.find("asked").orElseThrow().logicalSize());
  }
}
