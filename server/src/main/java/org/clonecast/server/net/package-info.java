/** What the JDK and Netty do not offer: raw IP sockets, through libc (Linux). */
package org.clonecast.server.net;
