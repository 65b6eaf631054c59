package org.clonecast.it.lab;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Real headless Chromium driven through chromedriver's W3C WebDriver HTTP protocol
 * (https://www.w3.org/TR/webdriver2/), both running in a lab namespace (so the browser reaches the
 * daemon's loopback listener there). The test talks to chromedriver on that namespace's 127.0.0.1:
 * its sockets are opened by a thread that entered the namespace (setns(2)), then used from the
 * test's thread, with plain HTTP/1.1 requests. Nothing listens outside the lab.
 *
 * <p>Not thread-safe; one browser session per instance. {@link #close} ends the session; the lab
 * kills chromedriver.
 */
public final class WebDriver implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int CLONE_NEWNET = 0x40000000;

  /** The W3C element reference key. */
  private static final String ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

  interface LibC extends Library {
    int open(String path, int flags) throws LastErrorException;

    int setns(int fd, int nstype) throws LastErrorException;

    int close(int fd) throws LastErrorException;
  }

  private final ExecutorService inNamespace;
  private final int port;
  private final String session;

  private WebDriver(ExecutorService inNamespace, int port, String session) {
    this.inNamespace = inNamespace;
    this.port = port;
    this.session = session;
  }

  /**
   * Starts chromedriver in {@code h}'s namespace and a headless Chromium session of {@code
   * width}x{@code height} with its profile in {@code profile}.
   */
  public static WebDriver start(Lab lab, Host h, Path profile, int width, int height) {
    int port = 9515;
    LabProcess driver =
        lab.spawn(
            h,
            "chromedriver",
            List.of("chromedriver", "--port=" + port, "--allowed-ips=127.0.0.1"),
            Map.of());
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> driver.log().contains("started successfully") || !driver.isAlive());
    if (!driver.isAlive())
      throw new IllegalStateException("chromedriver did not start:\n" + driver.tail(20));
    ExecutorService t =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread th = new Thread(r, "webdriver-netns");
              th.setDaemon(true);
              return th;
            });
    try {
      t.submit(
              () -> {
                LibC libc = Native.load("c", LibC.class);
                int fd = libc.open("/var/run/netns/" + h.netns(), 0); // O_RDONLY
                try {
                  libc.setns(fd, CLONE_NEWNET); // this thread only: its sockets live in the lab
                } finally {
                  libc.close(fd);
                }
                return null;
              })
          .get(10, TimeUnit.SECONDS);
      WebDriver probe = new WebDriver(t, port, null);
      Map<String, Object> caps =
          Map.of(
              "capabilities",
              Map.of(
                  "alwaysMatch",
                  Map.of(
                      "browserName",
                      "chrome",
                      "goog:chromeOptions",
                      Map.of(
                          "binary",
                          "/usr/bin/chromium",
                          "args",
                          List.of(
                              "--headless=new",
                              "--no-sandbox",
                              "--disable-gpu",
                              "--disable-dev-shm-usage",
                              "--no-first-run",
                              "--window-size=" + width + "," + height,
                              "--user-data-dir=" + profile)))));
      JsonNode created = probe.call("POST", "/session", caps);
      return new WebDriver(t, port, created.path("sessionId").asText());
    } catch (InterruptedException | ExecutionException | TimeoutException | IOException e) {
      t.shutdownNow();
      throw new IllegalStateException("cannot start a WebDriver session: " + e, e);
    }
  }

  /** A connection to chromedriver, made by the thread in the lab's namespace; reads time out. */
  private Socket connect() throws IOException {
    try {
      Socket s =
          inNamespace
              .submit(
                  () -> {
                    Socket sock = new Socket();
                    sock.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
                    return sock;
                  })
              .get(20, TimeUnit.SECONDS);
      s.setSoTimeout(60_000);
      return s;
    } catch (InterruptedException | ExecutionException | TimeoutException e) {
      throw new IOException("cannot connect to chromedriver: " + e, e);
    }
  }

  /** One WebDriver command; returns its {@code value}. */
  private JsonNode call(String method, String path, Object body) throws IOException {
    byte[] payload = body == null ? new byte[0] : JSON.writeValueAsBytes(body);
    try (Socket ch = connect()) {
      OutputStream out = ch.getOutputStream();
      String head =
          method
              + " "
              + path
              + " HTTP/1.1\r\nHost: 127.0.0.1:"
              + port
              + "\r\nConnection: close\r\n"
              + "Content-Type: application/json; charset=utf-8\r\nContent-Length: "
              + payload.length
              + "\r\n\r\n";
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      out.write(payload);
      out.flush();
      // chromedriver keeps the connection open: read the head, then Content-Length bytes.
      InputStream in = new BufferedInputStream(ch.getInputStream());
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      while (!answer.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
        int c = in.read();
        if (c < 0)
          throw new IOException(
              "chromedriver closed the connection before answering " + method + " " + path);
        answer.write(c);
      }
      Matcher m =
          Pattern.compile("(?im)^content-length:\\s*(\\d+)")
              .matcher(answer.toString(StandardCharsets.US_ASCII));
      if (!m.find())
        throw new IOException("chromedriver's answer has no Content-Length: " + answer);
      byte[] bodyBytes = in.readNBytes(Integer.parseInt(m.group(1)));
      JsonNode res = JSON.readTree(bodyBytes);
      JsonNode value = res.path("value");
      if (value.has("error")) {
        throw new IOException(
            "WebDriver "
                + method
                + " "
                + path
                + ": "
                + value.path("error").asText()
                + ": "
                + value.path("message").asText());
      }
      return value;
    }
  }

  private String at(String what) {
    return "/session/" + session + what;
  }

  public void navigate(String url) throws IOException {
    call("POST", at("/url"), Map.of("url", url));
  }

  public void setWindowSize(int width, int height) throws IOException {
    call("POST", at("/window/rect"), Map.of("width", width, "height", height));
  }

  /** The element matching a CSS selector. */
  public String find(String css) throws IOException {
    JsonNode ref = call("POST", at("/element"), Map.of("using", "css selector", "value", css));
    if (!ref.path(ELEMENT).isTextual())
      throw new IOException("no element reference for " + css + ": " + ref);
    return ref.path(ELEMENT).asText();
  }

  public void click(String css) throws IOException {
    call("POST", at("/element/" + find(css) + "/click"), Map.of());
  }

  public void type(String css, String text) throws IOException {
    call("POST", at("/element/" + find(css) + "/value"), Map.of("text", text));
  }

  /** Runs a script in the page (its {@code return} value comes back). */
  public JsonNode script(String js, Object... args) throws IOException {
    return call("POST", at("/execute/sync"), Map.of("script", js, "args", List.of(args)));
  }

  /** Runs a script whose last argument is the callback to call with the result. */
  public JsonNode asyncScript(String js, Object... args) throws IOException {
    return call("POST", at("/execute/async"), Map.of("script", js, "args", List.of(args)));
  }

  /** A PNG of the viewport. */
  public byte[] screenshot() throws IOException {
    return Base64.getDecoder().decode(call("GET", at("/screenshot"), null).asText());
  }

  @Override
  public void close() {
    try {
      if (session != null) call("DELETE", at(""), null);
    } catch (IOException e) {
      // the lab kills chromedriver and its browser anyway
    } finally {
      inNamespace.shutdownNow();
    }
  }
}
