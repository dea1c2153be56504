// The dialog shown when DLP refuses a send or asks for confirmation.
import { t } from '../i18n';
import { S, cancelDlp, confirmDlp } from '../store';
import { Modal } from '../ui';

export function DlpDialog() {
  const d = S.dlp!;
  const label = (det: string) => { const k = 'dlp_detector_' + det; const v = t(k); return v === k ? det : v; };
  return (
    <Modal title={d.kind === 'blocked' ? t('dlp_blocked_title') : t('dlp_confirm_title')} onClose={() => cancelDlp()} testid="dlp-dialog">
      <p class="dlp-msg" data-testid="dlp-message">{d.message}</p>
      {d.kind === 'confirm' && <p class="hint">{t('dlp_confirm_hint')}</p>}
      {d.findings.length > 0 && (
        <ul class="dlp-findings">
          {d.findings.map((f: any) => (
            <li data-testid="dlp-finding"><b>{label(String(f.detector ?? f.type ?? ''))}</b> <code>{String(f.masked ?? '')}</code> {f.action ? <span class="muted">({String(f.action)})</span> : null}</li>
          ))}
        </ul>
      )}
      <div class="row-end">
        <button data-testid="dlp-cancel" onClick={() => cancelDlp()}>{d.kind === 'blocked' ? t('ok') : t('cancel')}</button>
        {d.kind === 'confirm' && <button class="danger" data-testid="dlp-confirm" onClick={() => confirmDlp()}>{t('dlp_send_anyway')}</button>}
      </div>
    </Modal>
  );
}
