//! The PCMO call-script language. Placeholder until the PCMO issue lands.
