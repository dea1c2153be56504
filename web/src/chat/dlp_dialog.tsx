// The DLP dialogs, in plain words: what was found (masked), why it matters, what to do instead, and that
// blocked attempts count towards a suspension. Escalation notices (warning, unit head told, suspension)
// are shown to the person concerned and to their unit head. No raw codes reach the screen.
import { t } from '../i18n';
import { S, cancelDlp, confirmDlp, nextDlp } from '../store';
import { Modal, fmtTime } from '../ui';

const PERSONAL = ['cn_id_card', 'bank_card', 'cn_mobile', 'email', 'uscc'];
const SECRET = ['credential', 'secret_key'];

function findingLabel(f: any): string {
  const det = String(f.detector ?? f.type ?? '');
  const k = 'dlp_detector_' + det;
  const v = t(k);
  if (v !== k) return v;
  const r = 'dlp_reason_' + det;
  return t(r) !== r ? t(r) : t('dlp_detector_other');
}

function whyKey(findings: any[]): string {
  const dets = findings.map((f) => String(f.detector ?? ''));
  if (dets.some((d) => d === 'classified_marking')) return 'dlp_why_classified';
  if (dets.some((d) => SECRET.includes(d))) return 'dlp_why_secret';
  if (dets.some((d) => PERSONAL.includes(d) || d.startsWith('bulk_'))) return 'dlp_why_personal';
  if (dets.some((d) => d === 'prohibited' || d === 'lexicon')) return 'dlp_why_prohibited';
  return 'dlp_why_default';
}

function noticeText(n: NonNullable<typeof S.dlp>['notice']): string {
  if (!n) return '';
  const until = n.suspended_until ? fmtTime(n.suspended_until, true) : '';
  const params = { n: n.violations ?? 1, until, name: n.name || t('dlp_someone') };
  const mine = n.user_id === S.me?.id;
  const level = n.level === 'suspension' || n.level === 'unit_notice' ? n.level : 'warning';
  return t((mine ? 'dlp_notice_self_' : 'dlp_notice_head_') + level, params);
}

export function DlpDialog() {
  const d = S.dlp!;
  const findings = d.findings || [];
  if (d.kind === 'notice' || d.kind === 'suspended') {
    const title = d.kind === 'suspended' ? t('dlp_suspended_title') : d.notice?.user_id === S.me?.id ? t('dlp_notice_title') : t('dlp_notice_head_title');
    return (
      <Modal title={title} onClose={() => nextDlp()} testid="dlp-dialog">
        {d.kind === 'suspended'
          ? <p class="dlp-msg" data-testid="dlp-message">{t('dlp_suspended_text', { until: d.until ? fmtTime(d.until, true) : t('dlp_until_unknown') })}</p>
          : <p class="dlp-msg" data-testid="dlp-notice">{noticeText(d.notice)}</p>}
        {d.kind === 'suspended' && S.drafts.size > 0 && <p class="hint">{t('dlp_text_kept')}</p>}
        <div class="row-end"><button class="primary" data-testid="dialog-ok" onClick={() => nextDlp()}>{t('dlp_understood')}</button></div>
      </Modal>
    );
  }
  const blocked = d.kind === 'blocked';
  return (
    <Modal title={blocked ? (d.file ? t('dlp_blocked_file_title') : t('dlp_blocked_title')) : t('dlp_confirm_title')} onClose={() => cancelDlp()} testid="dlp-dialog">
      <p class="dlp-msg" data-testid="dlp-message">{blocked ? t(d.file ? 'dlp_blocked_file_lead' : 'dlp_blocked_lead') : t('dlp_confirm_lead')}</p>
      {findings.length > 0 && (
        <ul class="dlp-findings">
          {findings.map((f: any) => (
            <li data-testid="dlp-finding"><b>{findingLabel(f)}</b>{f.masked ? <>：<code>{String(f.masked)}</code></> : null}</li>
          ))}
        </ul>
      )}
      <p data-testid="dlp-why">{t(whyKey(findings))}</p>
      <p data-testid="dlp-advice">{blocked ? t('dlp_advice_blocked') : t('dlp_advice_confirm')}</p>
      {blocked && <p class="hint" data-testid="dlp-counts">{t('dlp_counts')}</p>}
      {!blocked && <p class="hint">{t('dlp_confirm_hint')}</p>}
      {blocked && !d.file && <p class="hint" data-testid="dlp-text-kept">{t('dlp_text_kept')}</p>}
      {d.notice && <p class="dlp-notice" data-testid="dlp-notice">{noticeText(d.notice)}</p>}
      <div class="row-end">
        {!blocked && <button data-testid="dialog-cancel" onClick={() => cancelDlp()}>{t('dlp_back_to_edit')}</button>}
        {blocked
          ? <button class="primary" data-testid="dialog-ok" onClick={() => cancelDlp()}>{t('dlp_understood')}</button>
          : <button class="danger" data-testid="dialog-ok" onClick={() => confirmDlp()}>{t('dlp_send_anyway')}</button>}
      </div>
    </Modal>
  );
}
