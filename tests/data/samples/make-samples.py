#!/usr/bin/env python3
"""make-samples.py OUTDIR - write the demo's sample messages (deterministic).

clean-text.eml, clean-attachment.eml, eicar-zip.eml (EICAR in a zip in base64),
forwarded-eicar.eml (EICAR inside a forwarded message), banned-exe.eml (a
harmless file named invoice.pdf.exe), clam-exe.eml (clam.exe from
clamav-testfiles, when installed).
"""
import base64, io, os, sys, zipfile

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

def b64(data):
    return base64.encodebytes(data).decode()

def zipped(name, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo(name, date_time=(2026, 11, 24, 0, 0, 0))
        z.writestr(info, data)
    return buf.getvalue()

def multipart(mid, subject, parts, sender="alice@example.org"):
    out = [f"From: {sender}", "To: bob@example.com", f"Subject: {subject}",
           f"Message-ID: <{mid}@demo.test>", "MIME-Version: 1.0",
           'Content-Type: multipart/mixed; boundary="demo-boundary"', "", ""]
    for p in parts:
        out.append("--demo-boundary")
        out.append(p)
    out.append("--demo-boundary--\n")
    return "\n".join(out)

def attachment(name, data, ctype="application/octet-stream"):
    return (f'Content-Type: {ctype}; name="{name}"\n'
            f'Content-Disposition: attachment; filename="{name}"\n'
            f"Content-Transfer-Encoding: base64\n\n{b64(data)}")

TEXT = "Content-Type: text/plain; charset=utf-8\n\nHello Bob, see the attachment.\n"

def main(outdir):
    os.makedirs(outdir, exist_ok=True)
    samples = {
        "clean-text.eml": "From: alice@example.org\nTo: bob@example.com\nSubject: lunch?\n"
                          "Message-ID: <clean-text@demo.test>\n\nNoon at the usual place?\n",
        "clean-attachment.eml": multipart("clean-attachment", "the report",
                                          [TEXT, attachment("report.pdf", b"%PDF-1.4\n%demo\n",
                                                            "application/pdf")]),
        "eicar-zip.eml": multipart("eicar-zip", "your invoice",
                                   [TEXT, attachment("invoice.zip", zipped("eicar.txt", EICAR),
                                                     "application/zip")],
                                   sender="mallory@example.net"),
        "banned-exe.eml": multipart("banned-exe", "invoice attached",
                                    [TEXT, attachment("invoice.pdf.exe", b"MZ harmless demo\n")],
                                    sender="mallory@example.net"),
    }
    inner = multipart("inner", "fwd inner", [TEXT, attachment("tool.com", EICAR)])
    samples["forwarded-eicar.eml"] = multipart(
        "forwarded-eicar", "Fwd: have a look",
        [TEXT, "Content-Type: message/rfc822\n\n" + inner])
    clam = "/usr/share/clamav-testfiles/clam.exe"
    if os.path.exists(clam):
        with open(clam, "rb") as f:
            samples["clam-exe.eml"] = multipart("clam-exe", "setup program",
                                                [TEXT, attachment("clam.zip", zipped("clam.exe", f.read()))])
    for name, text in samples.items():
        with open(os.path.join(outdir, name), "w") as f:
            f.write(text)

if __name__ == "__main__":
    main(sys.argv[1])
