// Writes an X.509 certificate object into a SoftHSM2 token (softhsm2-util imports keys only). Run in its own
// process so that the test's own PKCS#11 module instance is never finalised under it.
// argv: module tokenLabel pin label idHex certDerHex subjectDerHex
import pkcs11js from "pkcs11js";
const [, , modulePath, tokenLabel, pin, label, idHex, certHex, subjectHex] = process.argv;
const p = new pkcs11js.PKCS11();
p.load(modulePath);
p.C_Initialize();
try {
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === tokenLabel);
  if (!slot) throw new Error(`no token ${tokenLabel}`);
  const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  p.C_Login(session, pkcs11js.CKU_USER, pin);
  p.C_CreateObject(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
    { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: Buffer.from(idHex, "hex") },
    { type: pkcs11js.CKA_SUBJECT, value: Buffer.from(subjectHex, "hex") },
    { type: pkcs11js.CKA_VALUE, value: Buffer.from(certHex, "hex") },
  ]);
  p.C_Logout(session);
  p.C_CloseSession(session);
} finally {
  p.C_Finalize();
}
