package org.clonecast.common.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

/**
 * The agent API's bodies: today's wire names (an agent in an older netboot environment reads what
 * the daemon writes), strict about missing fields, wrong types and unknown values (the message
 * names the field), lenient about unknown fields; hostile bytes give only {@link
 * InvalidBodyException}.
 */
class AgentJsonTest {
  static final ObjectMapper PLAIN = new ObjectMapper();
  static final String MAC = "52:54:00:00:01:01";

  @Test
  void reimageKeepsTodaysWireNames() throws Exception {
    Assignment a =
        new Assignment.Reimage(
            7,
            "0b7f1c2e-7c0a-4c55-9a43-3f7e0d4e5a11",
            3 << 20,
            "10.77.0.1:9000",
            "/dev/vda",
            "node01",
            "cluster.internal",
            Map.of("/etc/motd", "hi\n"),
            true);
    JsonNode n = PLAIN.readTree(AgentJson.bytes(a));
    assertEquals(true, n.get("grow").asBoolean(), "the session's --grow");
    assertEquals("reimage", n.get("action").asText());
    assertEquals(7, n.get("session").asLong());
    assertEquals("node01", n.get("hostname").asText());
    assertEquals("cluster.internal", n.get("domain").asText());
    assertEquals("0b7f1c2e-7c0a-4c55-9a43-3f7e0d4e5a11", n.get("imageId").asText());
    assertEquals(3 << 20, n.get("logicalSize").asLong());
    assertEquals("10.77.0.1:9000", n.get("control").asText());
    assertEquals("/dev/vda", n.get("target").asText());
    assertEquals("hi\n", n.get("files").get("/etc/motd").asText());
    assertEquals(a, AgentJson.read(AgentJson.bytes(a), Assignment.class));
    // Only the wire fields: no helper accessor leaks, the action is written once.
    List<String> names = new ArrayList<>();
    n.fieldNames().forEachRemaining(names::add);
    assertEquals(
        List.of(
            "action",
            "session",
            "imageId",
            "logicalSize",
            "control",
            "target",
            "hostname",
            "domain",
            "files",
            "grow"),
        names);
    assertEquals(
        1,
        new String(AgentJson.bytes(a), StandardCharsets.UTF_8).split("\"action\"", -1).length - 1);
  }

  @Test
  void captureNoneAndFailKeepTodaysWireNames() throws Exception {
    UUID id = UUID.fromString("1c2d3e4f-0000-4000-8000-000000000001");
    Assignment c = new Assignment.Capture(4, "golden", id, "/dev/sda", 1 << 22, 3, true);
    JsonNode n = PLAIN.readTree(AgentJson.bytes(c));
    assertEquals("capture", n.get("action").asText());
    assertEquals(4, n.get("capture").asLong());
    assertEquals("golden", n.get("image").asText());
    assertEquals(id.toString(), n.get("imageId").asText());
    assertEquals("/dev/sda", n.get("disk").asText());
    assertEquals(1 << 22, n.get("chunkSize").asInt());
    assertEquals(3, n.get("level").asInt());
    assertTrue(n.get("force").asBoolean());
    assertEquals(c, AgentJson.read(AgentJson.bytes(c), Assignment.class));
    assertEquals(List.of(), ((Assignment.Capture) c).pooledDigests());
    // An update's capture lists the old image's digests; a damaged list is refused.
    byte[] d1 = new byte[32];
    byte[] d2 = new byte[32];
    Arrays.fill(d2, (byte) 7);
    Assignment.Capture from =
        new Assignment.Capture(
            5,
            "v2",
            id,
            "/dev/sda",
            1 << 20,
            3,
            false,
            Assignment.Capture.encodePooled(List.of(d1, d2)));
    Assignment.Capture back =
        (Assignment.Capture) AgentJson.read(AgentJson.bytes(from), Assignment.class);
    assertEquals(2, back.pooledDigests().size());
    assertArrayEquals(d2, back.pooledDigests().get(1));
    String bad =
        new String(AgentJson.bytes(from), StandardCharsets.UTF_8)
            .replace(from.pooled(), from.pooled().substring(4));
    assertThrows(
        InvalidBodyException.class,
        () -> AgentJson.read(bad.getBytes(StandardCharsets.UTF_8), Assignment.class));
    for (Assignment a :
        List.of(new Assignment.None("no session"), new Assignment.Fail("per-node files: denied"))) {
      JsonNode m = PLAIN.readTree(AgentJson.bytes(a));
      assertEquals(a.action(), m.get("action").asText());
      assertEquals(
          a instanceof Assignment.None x ? x.reason() : ((Assignment.Fail) a).reason(),
          m.get("reason").asText());
      assertEquals(a, AgentJson.read(AgentJson.bytes(a), Assignment.class));
    }
  }

  @Test
  void requestsReadTodaysAgentBodies() {
    // Exactly what the agents in released netboot environments send.
    RegisterRequest r =
        AgentJson.read(
            json(
                "{\"mac\":\""
                    + MAC
                    + "\",\"disks\":[{\"path\":\"/dev/vda\",\"size\":1048576,"
                    + "\"removable\":false,\"model\":\"QEMU\",\"serial\":\"\"}],\"cpus\":2,\"memoryBytes\":2147483648}"),
            RegisterRequest.class);
    assertEquals(
        new RegisterRequest(
            MAC, List.of(new Disk("/dev/vda", 1 << 20, false, "QEMU", "")), 2, 2147483648L),
        r);
    Progress p =
        AgentJson.read(
            json(
                "{\"mac\":\""
                    + MAC
                    + "\",\"session\":3,\"phase\":\"identity\",\"done\":5,\"total\":9}"),
            Progress.class);
    assertEquals(Progress.Phase.IDENTITY, p.phase());
    Result res =
        AgentJson.read(
            json(
                "{\"mac\":\""
                    + MAC
                    + "\",\"session\":3,\"ok\":true,\"detail\":\"fine\","
                    + "\"sshHostKey\":\"ssh-ed25519 AAAA\"}"),
            Result.class);
    assertEquals("ssh-ed25519 AAAA", res.sshHostKeyIfAny().orElseThrow());
    assertEquals(
        "failed",
        AgentJson.read(json("{\"mac\":\"" + MAC + "\",\"session\":3,\"ok\":false}"), Result.class)
            .detail());
    assertEquals(
        new CaptureBegin(MAC, 100, 4096),
        AgentJson.read(
            json("{\"mac\":\"" + MAC + "\",\"logicalSize\":100,\"chunkSize\":4096}"),
            CaptureBegin.class));
    assertEquals(
        "disk gone",
        AgentJson.read(
                json("{\"mac\":\"" + MAC + "\",\"ok\":false,\"detail\":\"disk gone\"}"),
                CaptureFailure.class)
            .detail());
  }

  @Test
  void readsWhatTheDaemonWroteBeforeTheRecords() {
    // The hand-built answers of earlier daemons: every key always present, nulls included.
    Assignment r =
        AgentJson.read(
            json(
                "{\"action\":\"reimage\",\"reason\":null,\"session\":4,\"hostname\":\"node01\","
                    + "\"domain\":null,\"imageId\":null,\"logicalSize\":3145728,\"control\":\"10.77.0.1:9004\",\"target\":\"/dev/vda\","
                    + "\"files\":{}}"),
            Assignment.class);
    assertEquals(
        new Assignment.Reimage(
            4, null, 3145728, "10.77.0.1:9004", "/dev/vda", "node01", null, Map.of(), false),
        r,
        "a daemon of an earlier build says nothing of grow: false");
    Assignment none =
        AgentJson.read(
            json(
                "{\"action\":\"none\",\"reason\":\"no session\",\"session\":0,\"hostname\":null,"
                    + "\"domain\":null,\"imageId\":null,\"logicalSize\":0,\"control\":null,\"target\":null}"),
            Assignment.class);
    assertEquals(new Assignment.None("no session"), none);
    Assignment c =
        AgentJson.read(
            json(
                "{\"action\":\"capture\",\"reason\":null,\"capture\":2,\"image\":\"golden\","
                    + "\"imageId\":\"1c2d3e4f-0000-4000-8000-000000000001\",\"disk\":\"/dev/sda\",\"chunkSize\":4194304,\"level\":3,"
                    + "\"force\":false}"),
            Assignment.class);
    assertEquals(2, ((Assignment.Capture) c).capture());
    assertEquals(
        new CaptureHeld(-1, 0, 0),
        AgentJson.read(
            json("{\"heldThrough\":-1,\"heldChunks\":0,\"storedBytes\":0}"), CaptureHeld.class));
  }

  @Test
  void unknownFieldsAreIgnored() {
    Progress p =
        AgentJson.read(
            json(
                "{\"mac\":\""
                    + MAC
                    + "\",\"session\":3,\"phase\":\"receiving\",\"done\":5,\"total\":9,"
                    + "\"rate\":{\"mbps\":[1,2]},\"zzz\":null}"),
            Progress.class);
    assertEquals(5, p.done());
    Assignment a =
        AgentJson.read(
            json(
                "{\"action\":\"none\",\"reason\":\"r\",\"session\":0,\"hostname\":null,\"later\":1}"),
            Assignment.class);
    assertEquals(new Assignment.None("r"), a);
  }

  @Test
  void missingRequiredFieldsAreNamed() {
    assertMessage("field 'mac' is required", "{\"disks\":[]}", RegisterRequest.class);
    assertMessage(
        "field 'disks[1].path' is required",
        "{\"mac\":\"m\",\"disks\":[{\"path\":\"/dev/a\"},{\"size\":1}]}",
        RegisterRequest.class);
    assertMessage(
        "field 'session' is required", "{\"mac\":\"m\",\"phase\":\"receiving\"}", Progress.class);
    assertMessage("field 'phase' is required", "{\"mac\":\"m\",\"session\":1}", Progress.class);
    assertMessage("field 'ok' is required", "{\"mac\":\"m\",\"session\":1}", Result.class);
    assertMessage(
        "field 'ok' is required", "{\"mac\":\"m\",\"session\":1,\"ok\":null}", Result.class);
    assertMessage(
        "field 'chunkSize' is required", "{\"mac\":\"m\",\"logicalSize\":1}", CaptureBegin.class);
    assertMessage("field 'action' is required", "{\"reason\":\"x\"}", Assignment.class);
    assertMessage(
        "field 'control' is required",
        "{\"action\":\"reimage\",\"session\":1,\"target\":\"/dev/a\",\"hostname\":\"n\"}",
        Assignment.class);
  }

  @Test
  void wrongTypesAndUnknownValuesAreNamed() {
    assertNames(
        "session", "{\"mac\":\"m\",\"session\":\"12\",\"phase\":\"receiving\"}", Progress.class);
    assertNames(
        "session", "{\"mac\":\"m\",\"session\":1.5,\"phase\":\"receiving\"}", Progress.class);
    assertNames(
        "session", "{\"mac\":\"m\",\"session\":1e3,\"phase\":\"receiving\"}", Progress.class);
    assertNames("cpus", "{\"mac\":\"m\",\"cpus\":true}", RegisterRequest.class);
    assertNames("detail", "{\"mac\":\"m\",\"session\":1,\"ok\":true,\"detail\":7}", Result.class);
    assertNames(
        "session",
        "{\"mac\":\"m\",\"session\":123456789012345678901234567890,\"phase\":\"receiving\"}",
        Progress.class);
    assertNames(
        "session", "{\"mac\":\"m\",\"session\":null,\"phase\":\"receiving\"}", Progress.class);
    assertNames("phase", "{\"mac\":\"m\",\"session\":1,\"phase\":\"done\"}", Progress.class);
    assertNames("phase", "{\"mac\":\"m\",\"session\":1,\"phase\":7}", Progress.class);
    assertNames("mac", "{\"mac\":5,\"session\":1,\"ok\":true}", Result.class);
    assertNames("ok", "{\"mac\":\"m\",\"session\":1,\"ok\":1}", Result.class);
    assertNames("ok", "{\"mac\":\"m\",\"session\":1,\"ok\":\"true\"}", Result.class);
    assertNames(
        "chunkSize",
        "{\"mac\":\"m\",\"logicalSize\":1,\"chunkSize\":4294967296}",
        CaptureBegin.class);
    assertNames("disks", "{\"mac\":\"m\",\"disks\":{\"path\":\"/dev/a\"}}", RegisterRequest.class);
    assertNames(
        "disks[0].size",
        "{\"mac\":\"m\",\"disks\":[{\"path\":\"/dev/a\",\"size\":-1}]}",
        RegisterRequest.class);
    assertNames("action", "{\"action\":\"explode\"}", Assignment.class);
    assertNames("ok", "{\"mac\":\"m\",\"ok\":true}", CaptureFailure.class);
  }

  @Test
  void notAnObjectOrTooDeepIsRefused() {
    for (String s :
        List.of("", "[]", "null", "7", "\"x\"", "{", "{} {}", "{\"mac\":\"m\"} trailing")) {
      assertThrows(
          InvalidBodyException.class, () -> AgentJson.read(json(s), RegisterRequest.class), s);
    }
    String deep = "{\"x\":".repeat(5000) + "1" + "}".repeat(5000);
    InvalidBodyException e =
        assertThrows(
            InvalidBodyException.class, () -> AgentJson.read(json(deep), RegisterRequest.class));
    assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
  }

  @Property(tries = 300)
  void arbitraryBytesGiveOnlyInvalidBody(@ForAll byte[] body) {
    for (Class<?> t :
        List.of(
            RegisterRequest.class,
            Progress.class,
            Result.class,
            CaptureBegin.class,
            CaptureProgress.class,
            CaptureFailure.class,
            Assignment.class)) {
      try {
        AgentJson.read(body, t);
      } catch (RuntimeException e) {
        assertInstanceOf(InvalidBodyException.class, e, e.toString());
      }
    }
  }

  @Property(tries = 500)
  void mutatedBodiesGiveOnlyInvalidBody(@ForAll("mutated") String body) {
    for (Class<?> t :
        List.of(
            RegisterRequest.class,
            Progress.class,
            Result.class,
            CaptureBegin.class,
            CaptureFailure.class,
            Assignment.class)) {
      try {
        AgentJson.read(json(body), t);
      } catch (RuntimeException e) {
        assertInstanceOf(InvalidBodyException.class, e, e.toString());
      }
    }
  }

  /** Valid bodies with one field's value swapped for a value of any JSON type. */
  @Provide
  Arbitrary<String> mutated() {
    Arbitrary<String> value =
        Arbitraries.oneOf(
            Arbitraries.just("null"),
            Arbitraries.just("true"),
            Arbitraries.just("[]"),
            Arbitraries.just("{}"),
            Arbitraries.just("\"\""),
            Arbitraries.just("-1"),
            Arbitraries.just("1e400"),
            Arbitraries.just("99999999999999999999999"),
            Arbitraries.just("0.5"),
            Arbitraries.just("[{\"path\":7}]"),
            Arbitraries.just("\"reimage\""),
            Arbitraries.just("\"identity\""),
            Arbitraries.strings().ofMaxLength(20).map(s -> PLAIN.valueToTree(s).toString()),
            Arbitraries.longs().map(Object::toString));
    Arbitrary<String> field =
        Arbitraries.of(
            "mac",
            "disks",
            "cpus",
            "memoryBytes",
            "session",
            "phase",
            "done",
            "total",
            "ok",
            "detail",
            "sshHostKey",
            "logicalSize",
            "chunkSize",
            "action",
            "control",
            "target",
            "hostname",
            "files",
            "imageId",
            "capture",
            "image",
            "disk",
            "level",
            "force");
    return field
        .list()
        .ofMaxSize(8)
        .flatMap(
            fs ->
                value
                    .list()
                    .ofSize(fs.size())
                    .map(
                        vs -> {
                          StringBuilder sb = new StringBuilder("{");
                          for (int i = 0; i < fs.size(); i++) {
                            sb.append(i == 0 ? "" : ",")
                                .append('"')
                                .append(fs.get(i))
                                .append("\":")
                                .append(vs.get(i));
                          }
                          return sb.append('}').toString();
                        }));
  }

  private static byte[] json(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void assertMessage(String want, String body, Class<?> type) {
    InvalidBodyException e =
        assertThrows(InvalidBodyException.class, () -> AgentJson.read(json(body), type), body);
    assertEquals(want, e.getMessage());
  }

  private static void assertNames(String field, String body, Class<?> type) {
    InvalidBodyException e =
        assertThrows(InvalidBodyException.class, () -> AgentJson.read(json(body), type), body);
    assertTrue(e.getMessage().contains("'" + field + "'"), body + ": " + e.getMessage());
  }
}
