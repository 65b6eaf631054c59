package org.clonecast.protocol.dhcp;

import static org.clonecast.protocol.dhcp.Dhcp.*;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clonecast.protocol.wire.MalformedPacketException;

/**
 * What a network-boot client says about itself: its architecture (option 93, RFC 4578 §2.1), vendor
 * class (60: "PXEClient:Arch:xxxxx:UNDI:yyyzzz" or UEFI's "HTTPClient:..."), whether it is iPXE
 * (user class "iPXE" in 77, or iPXE's option 175), and the PXE vendor sub-options of 43 (PXE 2.1
 * §2.4).
 *
 * <p>Stateless; thread-safe.
 */
public final class Pxe {
  /** Vendor class prefix of PXE firmware (PXE 2.1 §2.2.1). */
  public static final String PXE_CLIENT = "PXEClient";

  /** Vendor class prefix of UEFI HTTP boot (UEFI 2.5 §24.7). */
  public static final String HTTP_CLIENT = "HTTPClient";

  /** User class iPXE sends in option 77. */
  public static final String IPXE_USER_CLASS = "iPXE";

  private static final Pattern VENDOR_ARCH =
      Pattern.compile("(?:PXEClient|HTTPClient):Arch:(\\d{5}).*", Pattern.DOTALL);

  private Pxe() {}

  /**
   * Client system architectures (RFC 4578 §2.1 and the IANA registry). RFC 4578 first named 7 "EFI
   * BC" and 9 "EFI x86-64"; firmware sends either for x64 (OVMF sends 7), so both map to {@link
   * #EFI_X64}.
   */
  public enum Arch {
    BIOS("bios"),
    EFI_IA32("efi-ia32"),
    EFI_X64("efi-x64"),
    EFI_ARM32("efi-arm32"),
    EFI_ARM64("efi-arm64"),
    EFI_X64_HTTP("efi-x64-http"),
    EFI_ARM64_HTTP("efi-arm64-http"),
    UNKNOWN("unknown");

    private final String id;

    Arch(String id) {
      this.id = id;
    }

    /** Short name for logs and the inventory, e.g. "efi-x64". */
    public String id() {
      return id;
    }

    /** The architecture of an option 93 type. */
    public static Arch of(int type) {
      return switch (type) {
        case 0 -> BIOS;
        case 6 -> EFI_IA32;
        case 7, 9 -> EFI_X64;
        case 10 -> EFI_ARM32;
        case 11 -> EFI_ARM64;
        case 16 -> EFI_X64_HTTP;
        case 19 -> EFI_ARM64_HTTP;
        default -> UNKNOWN;
      };
    }

    /** UEFI HTTP boot: wants an http:// URL and "HTTPClient" echoed in option 60. */
    public boolean httpBoot() {
      return this == EFI_X64_HTTP || this == EFI_ARM64_HTTP;
    }
  }

  /**
   * The client's first architecture type: option 93, else the "Arch:xxxxx" of a PXE vendor class
   * (some PXE ROMs send only the vendor class).
   */
  public static OptionalInt archType(DhcpPacket p) {
    Optional<DhcpOption.ClientArch> a = p.option(DhcpOption.ClientArch.class);
    if (a.isPresent()) {
      return OptionalInt.of(a.get().types().get(0));
    }
    Optional<String> vc = p.text(OPT_VENDOR_CLASS_ID);
    if (vc.isPresent()) {
      Matcher m = VENDOR_ARCH.matcher(vc.get());
      if (m.matches()) {
        return OptionalInt.of(Integer.parseInt(m.group(1)));
      }
    }
    return OptionalInt.empty();
  }

  /** The client's architecture; {@link Arch#UNKNOWN} when it names none. */
  public static Arch arch(DhcpPacket p) {
    OptionalInt t = archType(p);
    return t.isPresent() ? Arch.of(t.getAsInt()) : Arch.UNKNOWN;
  }

  /** Option 60, if the client sent one. */
  public static Optional<String> vendorClass(DhcpPacket p) {
    return p.text(OPT_VENDOR_CLASS_ID);
  }

  /** Whether option 60 starts with "PXEClient" (firmware PXE, and iPXE too). */
  public static boolean isPxeClient(DhcpPacket p) {
    return vendorClass(p).map(v -> v.startsWith(PXE_CLIENT)).orElse(false);
  }

  /** Whether option 60 starts with "HTTPClient" (UEFI HTTP boot). */
  public static boolean isHttpClient(DhcpPacket p) {
    return vendorClass(p).map(v -> v.startsWith(HTTP_CLIENT)).orElse(false);
  }

  /**
   * Whether a network-boot client sent this: PXE or HTTP vendor class, or an architecture option.
   */
  public static boolean isBootClient(DhcpPacket p) {
    return isPxeClient(p) || isHttpClient(p) || p.option(OPT_CLIENT_ARCH).isPresent();
  }

  /** Whether iPXE sent this: user class "iPXE" (77) or iPXE's encapsulated options (175). */
  public static boolean isIpxe(DhcpPacket p) {
    return p.option(OPT_IPXE_ENCAP).isPresent()
        || p.octets(OPT_USER_CLASS)
            .map(u -> new String(u, StandardCharsets.ISO_8859_1).contains(IPXE_USER_CLASS))
            .orElse(false);
  }

  /**
   * The PXE sub-options of option 43 (code → value, in order; PAD skipped, END stops).
   *
   * @throws MalformedPacketException for a sub-option running past the end, e.g. "option 43
   *     sub-option 6 length 4, only 1 octets left"
   */
  public static Map<Integer, byte[]> subOptions(byte[] b) {
    Map<Integer, byte[]> out = new LinkedHashMap<>();
    int i = 0;
    while (i < b.length) {
      int code = b[i++] & 0xFF;
      if (code == OPT_PAD) {
        continue;
      }
      if (code == OPT_END) {
        break;
      }
      if (i >= b.length) {
        throw new MalformedPacketException("option 43 sub-option " + code + " has no length octet");
      }
      int len = b[i++] & 0xFF;
      if (i + len > b.length) {
        throw new MalformedPacketException(
            "option 43 sub-option "
                + code
                + " length "
                + len
                + ", only "
                + (b.length - i)
                + " octets left");
      }
      byte[] v = new byte[len];
      System.arraycopy(b, i, v, 0, len);
      out.put(code, v);
      i += len;
    }
    return out;
  }

  /** Sub-option 6 of option 43, PXE_DISCOVERY_CONTROL, if present. */
  public static OptionalInt discoveryControl(DhcpPacket p) {
    Optional<byte[]> vs = p.octets(OPT_VENDOR_SPECIFIC);
    if (vs.isEmpty()) {
      return OptionalInt.empty();
    }
    byte[] v = subOptions(vs.get()).get(PXE_DISCOVERY_CONTROL);
    if (v == null) {
      return OptionalInt.empty();
    }
    if (v.length != 1) {
      throw new MalformedPacketException("option 43 sub-option 6 length " + v.length + ", want 1");
    }
    return OptionalInt.of(v[0] & 0xFF);
  }

  /** Option 43 holding {@code subOptions} (code → value) and END. */
  public static DhcpOption.Unknown vendorOptions(Map<Integer, byte[]> subOptions) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Map.Entry<Integer, byte[]> e : subOptions.entrySet()) {
      if (e.getValue().length > 255) {
        throw new IllegalArgumentException(
            "sub-option " + e.getKey() + " is " + e.getValue().length + " octets, at most 255");
      }
      out.write(e.getKey());
      out.write(e.getValue().length);
      out.writeBytes(e.getValue());
    }
    out.write(OPT_END);
    return new DhcpOption.Unknown(OPT_VENDOR_SPECIFIC, out.toByteArray());
  }

  /**
   * Option 43 telling a PXE ROM to boot the file in this packet without boot server discovery
   * (sub-option 6 = 8). What proxyDHCP offers carry, so ROMs do not wait for a menu.
   */
  public static DhcpOption.Unknown useBootFile() {
    return vendorOptions(
        Map.of(PXE_DISCOVERY_CONTROL, new byte[] {(byte) PXE_DISCOVERY_USE_BOOTFILE}));
  }
}
