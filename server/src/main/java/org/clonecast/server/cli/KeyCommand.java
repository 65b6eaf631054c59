package org.clonecast.server.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.clonecast.common.cli.CliException;
import org.clonecast.common.cli.CommandGroup;
import org.clonecast.common.cli.ExitCodes;
import org.clonecast.common.trust.ImageKey;
import org.clonecast.common.trust.ImageSigner;
import org.clonecast.server.boot.BootenvInstaller;
import org.clonecast.server.store.PooledImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code clonecast key ...}: the daemon's image signing key (docs/security.md, "Keys"). Works on
 * the state directory, like {@code bootenv build}: a running daemon reads the key files again when
 * they change, so a rotation needs no restart.
 */
@Command(
    name = "key",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description =
        "Show or rotate the Ed25519 key with which the daemon signs every image it stores and serves.",
    subcommands = {KeyCommand.Show.class, KeyCommand.Rotate.class, KeyCommand.ForgetPrevious.class})
public final class KeyCommand extends CommandGroup {

  @Command(
      name = "show",
      description = {
        "Print the image key's fingerprint and public key (what 'clonecast-agent receive --trust' takes),",
        "and the previous key's while a rotation's overlap keeps it. With --trusted-keys: the file the netboot",
        "environment carries, ready for --trust."
      })
  static final class Show extends StateDirCommand {

    @Option(
        names = "--trusted-keys",
        description = "Print the trusted-keys file (current and previous public key) only.")
    boolean trustedKeys;

    @Override
    public Integer call() throws IOException {
      Path stateDir = state.resolve();
      if (!Files.isRegularFile(stateDir.resolve(ImageKey.PRIVATE_FILE))) {
        throw new CliException(
            ExitCodes.FAILED,
            "no image key in "
                + stateDir
                + "; the daemon makes one at its first start"
                + " ('clonecast serve'), or pass --state-dir");
      }
      PrintWriter out = out();
      if (trustedKeys) {
        out.print(ImageKey.trustedKeysFile(stateDir));
      } else {
        ImageKey k = load(stateDir);
        out.println("current  " + k.fingerprint());
        out.println("         " + k.publicBase64());
        out.println("         " + stateDir.resolve(ImageKey.PUBLIC_FILE));
        Optional<ImageKey> p = ImageKey.loadPrevious(stateDir);
        if (p.isPresent()) {
          out.println(
              "previous "
                  + p.get().fingerprint()
                  + " (kept for the overlap; 'clonecast key forget-previous' drops it)");
          out.println("         " + p.get().publicBase64());
        }
      }
      out.flush();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "rotate",
      description = {
        "Make a new image key; the current one becomes the previous one (any older one is deleted).",
        "Every stored image is signed again with the new key, and an installed netboot environment is rebuilt to",
        "trust both (seconds: only its small trusted-keys archive changes). Sessions sign with both keys, so nodes",
        "booted before the rotation still take their image. After a compromise add --forget-previous.",
        "In a directory without a key, makes the first one."
      })
  static final class Rotate extends StateDirCommand {

    @Option(
        names = "--forget-previous",
        description =
            "Do not keep the old key (it leaked): nodes trust only the new one once they netboot again.")
    boolean forgetPrevious;

    @Option(
        names = "--no-bootenv",
        description =
            "Leave the netboot environment alone (the daemon rebuilds it at the next session).")
    boolean noBootenv;

    @Override
    public Integer call() throws IOException, InterruptedException {
      Path stateDir = state.resolve();
      PrintWriter out = out();
      if (!Files.isRegularFile(stateDir.resolve(ImageKey.PRIVATE_FILE))) {
        // A first key, e.g. for 'clonecast send --sign-key' on a host without a daemon.
        Files.createDirectories(stateDir);
        ImageKey k = ImageKey.loadOrCreate(stateDir);
        out.println("clonecast key: no key in " + stateDir + "; made one: " + k.fingerprint());
        out.flush();
        return ExitCodes.OK;
      }
      String old = load(stateDir).fingerprint();
      ImageKey next = ImageKey.rotate(stateDir);
      if (forgetPrevious) ImageKey.forgetPrevious(stateDir);
      out.println(
          "clonecast key: new key "
              + next.fingerprint()
              + (forgetPrevious
                  ? "; the old key " + old + " is deleted"
                  : "; the old key " + old + " is kept as the previous one"));
      int signed = 0;
      Path images = stateDir.resolve("images");
      if (Files.isDirectory(images)) {
        // Images in the chunk pool (a manifest file each) and, of an earlier build, .cci files.
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(images, "*.{cci,ccm}")) {
          for (Path f : ds) {
            try {
              if (f.getFileName().toString().endsWith(".ccm")) {
                PooledImage.sign(f, next);
              } else {
                ImageSigner.sign(f, next);
              }
              signed++;
            } catch (IOException | RuntimeException e) {
              out.println("clonecast key: could not sign " + f + " again: " + e.getMessage());
            }
          }
        }
      }
      out.println("clonecast key: " + signed + " stored image(s) signed with the new key");
      Path current = BootenvInstaller.currentDir(stateDir);
      if (!noBootenv && BootenvInstaller.ready(current)) {
        Optional<BootenvInstaller> installer = BootenvInstaller.installed();
        if (installer.isEmpty()) {
          out.println(
              "clonecast key: the netboot environment still trusts only the old key; run 'clonecast bootenv build --state-dir "
                  + stateDir
                  + "' (the build script or agent jar is not beside this jar)");
        } else {
          PrintWriter err = err();
          try {
            Path built =
                installer
                    .get()
                    .buildAndInstall(
                        stateDir,
                        Optional.empty(),
                        line -> {
                          err.println(line);
                          err.flush();
                        });
            out.println("clonecast key: the netboot environment trusts the new key: " + built);
          } catch (BootenvInstaller.BootenvException e) {
            out.println(
                "clonecast key: rebuilding the netboot environment failed ("
                    + e.getMessage()
                    + "); run 'clonecast bootenv"
                    + " build --state-dir "
                    + stateDir
                    + "'; until then marked nodes wait");
          }
        }
      }
      out.flush();
      return ExitCodes.OK;
    }
  }

  @Command(
      name = "forget-previous",
      description = {
        "Delete the previous image key: sessions stop signing with it, and a netboot environment built",
        "afterwards ('clonecast bootenv build') trusts only the current key."
      })
  static final class ForgetPrevious extends StateDirCommand {

    @Override
    public Integer call() throws IOException {
      Path stateDir = state.resolve();
      boolean had = ImageKey.forgetPrevious(stateDir);
      out()
          .println(
              had
                  ? "clonecast key: previous key deleted; rebuild the netboot environment ('clonecast"
                      + " bootenv build') so that it trusts only the current key"
                  : "clonecast key: no previous key in " + stateDir);
      out().flush();
      return ExitCodes.OK;
    }
  }

  private static ImageKey load(Path stateDir) {
    try {
      return ImageKey.load(stateDir);
    } catch (IOException e) {
      throw new CliException(ExitCodes.FAILED, e.getMessage());
    }
  }
}
