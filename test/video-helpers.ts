// What ffprobe reads back from a video the tests wrote: its first video stream's decoded frame
// count (every frame decoded, not the container's claim), size and codec.
import { execFileSync } from 'node:child_process';

export function probeVideo(path: string): { frames: number; width: number; height: number; codec: string } {
  const out = execFileSync(
    'ffprobe',
    [
      '-v',
      'error',
      '-count_frames',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=nb_read_frames,width,height,codec_name',
      '-of',
      'json',
      path,
    ],
    { encoding: 'utf8' },
  );
  const s = JSON.parse(out).streams[0];
  return { frames: Number(s.nb_read_frames), width: s.width, height: s.height, codec: s.codec_name };
}
