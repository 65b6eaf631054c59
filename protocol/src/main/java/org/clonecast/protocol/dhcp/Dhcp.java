package org.clonecast.protocol.dhcp;

/**
 * RFC-named constants of DHCP (RFC 2131, RFC 2132) and its PXE extensions (RFC 4578, PXE 2.1).
 *
 * <p>Constants only; thread-safe.
 */
public final class Dhcp {
  private Dhcp() {}

  /** UDP port of DHCP servers and relays (RFC 2131 §4.1). */
  public static final int SERVER_PORT = 67;

  /** UDP port of DHCP clients. */
  public static final int CLIENT_PORT = 68;

  /** UDP port of the PXE boot server (proxyDHCP boot discovery, PXE 2.1 §2.2.3). */
  public static final int PXE_PORT = 4011;

  /** {@code op}: client to server. */
  public static final int BOOTREQUEST = 1;

  /** {@code op}: server to client. */
  public static final int BOOTREPLY = 2;

  /** {@code htype} of Ethernet (RFC 1700). */
  public static final int HTYPE_ETHERNET = 1;

  /** The {@code flags} bit asking for a broadcast reply (RFC 2131 §2 figure 2). */
  public static final int FLAG_BROADCAST = 0x8000;

  /** The four octets that start the options field (RFC 2131 §3). */
  public static final int MAGIC_COOKIE = 0x63825363;

  /** Fixed header: op to file (RFC 2131 §2), without the magic cookie. */
  public static final int HEADER_LENGTH = 236;

  /** Length of {@code chaddr}. */
  public static final int CHADDR_LENGTH = 16;

  /** Length of {@code sname}. */
  public static final int SNAME_LENGTH = 64;

  /** Length of {@code file}. */
  public static final int FILE_LENGTH = 128;

  /**
   * BOOTP's minimum message (RFC 951 vend field of 64 octets; RFC 1542 §2.1): old relays and ROMs
   * drop shorter ones.
   */
  public static final int BOOTP_MIN_LENGTH = 300;

  public static final int OPT_PAD = 0;
  public static final int OPT_SUBNET_MASK = 1;
  public static final int OPT_ROUTER = 3;
  public static final int OPT_DNS_SERVERS = 6;
  public static final int OPT_HOST_NAME = 12;
  public static final int OPT_DOMAIN_NAME = 15;
  public static final int OPT_BROADCAST_ADDRESS = 28;
  public static final int OPT_VENDOR_SPECIFIC = 43;
  public static final int OPT_REQUESTED_IP = 50;
  public static final int OPT_LEASE_TIME = 51;
  public static final int OPT_OVERLOAD = 52;
  public static final int OPT_MESSAGE_TYPE = 53;
  public static final int OPT_SERVER_ID = 54;
  public static final int OPT_PARAMETER_REQUEST_LIST = 55;
  public static final int OPT_MESSAGE = 56;
  public static final int OPT_MAX_MESSAGE_SIZE = 57;
  public static final int OPT_RENEWAL_TIME = 58;
  public static final int OPT_REBINDING_TIME = 59;
  public static final int OPT_VENDOR_CLASS_ID = 60;
  public static final int OPT_CLIENT_ID = 61;
  public static final int OPT_TFTP_SERVER_NAME = 66;
  public static final int OPT_BOOTFILE_NAME = 67;
  public static final int OPT_USER_CLASS = 77;
  public static final int OPT_CLIENT_ARCH = 93;
  public static final int OPT_CLIENT_NDI = 94;
  public static final int OPT_CLIENT_GUID = 97;

  /**
   * iPXE's encapsulated options (iPXE's own number, not IANA-assigned: "site specific" 128-254).
   */
  public static final int OPT_IPXE_ENCAP = 175;

  public static final int OPT_END = 255;

  /** Option 52 values (RFC 2132 §9.3). */
  public static final int OVERLOAD_FILE = 1;

  public static final int OVERLOAD_SNAME = 2;
  public static final int OVERLOAD_BOTH = 3;

  /** Option 43 PXE sub-option 6, PXE_DISCOVERY_CONTROL (PXE 2.1 table 2-1). */
  public static final int PXE_DISCOVERY_CONTROL = 6;

  /** Discovery control bit 3: use the boot file in this packet, do not discover boot servers. */
  public static final int PXE_DISCOVERY_USE_BOOTFILE = 0x08;
}
