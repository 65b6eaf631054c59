package org.clonecast.protocol.tftp;

/**
 * TFTP constants, named as in the RFCs: opcodes and error codes (RFC 1350 §5, RFC 2347), option
 * names and their ranges (RFC 2348, 2349, 7440).
 */
public final class Tftp {
  private Tftp() {}

  /** Well-known server port (RFC 1350 §4). */
  public static final int PORT = 69;

  /** Read request. */
  public static final int OP_RRQ = 1;

  /** Write request. */
  public static final int OP_WRQ = 2;

  /** Data. */
  public static final int OP_DATA = 3;

  /** Acknowledgment. */
  public static final int OP_ACK = 4;

  /** Error. */
  public static final int OP_ERROR = 5;

  /** Option acknowledgment (RFC 2347). */
  public static final int OP_OACK = 6;

  /** Not defined, see error message (if any). */
  public static final int ERR_NOT_DEFINED = 0;

  /** File not found. */
  public static final int ERR_FILE_NOT_FOUND = 1;

  /** Access violation. */
  public static final int ERR_ACCESS_VIOLATION = 2;

  /** Disk full or allocation exceeded. */
  public static final int ERR_DISK_FULL = 3;

  /** Illegal TFTP operation. */
  public static final int ERR_ILLEGAL_OPERATION = 4;

  /** Unknown transfer ID. */
  public static final int ERR_UNKNOWN_TID = 5;

  /** File already exists. */
  public static final int ERR_FILE_EXISTS = 6;

  /** No such user. */
  public static final int ERR_NO_SUCH_USER = 7;

  /** Option negotiation refused (RFC 2347); EDK2 sends it to end its tsize probe. */
  public static final int ERR_OPTION_REFUSED = 8;

  /** Block size without options (RFC 1350). */
  public static final int DEFAULT_BLKSIZE = 512;

  /** RFC 2348 option name. */
  public static final String OPT_BLKSIZE = "blksize";

  /** RFC 2348 smallest block size. */
  public static final int MIN_BLKSIZE = 8;

  /** RFC 2348 largest block size (65535 − 20 IP − 8 UDP − 4 TFTP header, − 39 for IPv6 options). */
  public static final int MAX_BLKSIZE = 65464;

  /** RFC 2349 option name. */
  public static final String OPT_TSIZE = "tsize";

  /** RFC 2349 option name. */
  public static final String OPT_TIMEOUT = "timeout";

  /** RFC 2349 smallest timeout, seconds. */
  public static final int MIN_TIMEOUT = 1;

  /** RFC 2349 largest timeout, seconds. */
  public static final int MAX_TIMEOUT = 255;

  /** RFC 7440 option name. */
  public static final String OPT_WINDOWSIZE = "windowsize";

  /** RFC 7440 largest window. */
  public static final int MAX_WINDOWSIZE = 65535;

  /** Block numbers are u16 and roll over from 65535 to 0 (as tftp-hpa, atftp and iPXE expect). */
  public static final int BLOCK_MODULUS = 1 << 16;

  /** Bytes before the payload of a DATA packet: opcode and block number. */
  public static final int DATA_HEADER = 4;
}
